package web

import (
	"errors"
	"net/http"

	"edgebox/api/vpnapi"
	"edgebox/internal/localapi"
)

// handleVPNCredentials stores the VPN key passphrase and/or login for the
// stored profile. When the tunnel says it needs them, the installer types
// them into the VPN step and taps the button again: choosing the profile
// file once more on a phone was the only way before.
func (s *Server) handleVPNCredentials(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Passphrase string `json:"passphrase"`
		Username   string `json:"username"`
		Password   string `json:"password"`
	}
	if err := localapi.ReadJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	var cr vpnapi.Credentials
	for _, k := range []struct {
		v   string
		dst **string
	}{{req.Passphrase, &cr.Passphrase}, {req.Username, &cr.Username}, {req.Password, &cr.Password}} {
		if k.v != "" {
			v := k.v
			*k.dst = &v
		}
	}
	if cr.Passphrase == nil && cr.Username == nil && cr.Password == nil {
		apiError(w, http.StatusBadRequest, errors.New("profile: choose the .ovpn file, or type the passphrase or login the VPN asks for"))
		return
	}
	if err := cr.Validate(); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	if socketAbsent("netctl") {
		apiError(w, http.StatusServiceUnavailable, errors.New("VPN service not available: the profile was not stored"))
		return
	}
	if _, err := vpnapi.NewClient().SetCredentials(r.Context(), cr); err != nil {
		apiError(w, http.StatusBadGateway, err)
		return
	}
	s.log.Info("VPN credentials set", "from", clientAddr(r))
	apiJSON(w, http.StatusOK, VPNProfileResult{OK: true, Message: tr(langOf(r), "Stored; the VPN is connecting with them.")})
}
