package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"edgebox/api/vpnapi"
	"edgebox/internal/apndb"
	"edgebox/internal/config"
)

// field is one input of a wizard step, bound to a config path.
type field struct {
	Path    string
	Label   string
	Kind    string // text, password, number, checkbox, select, list
	Help    string
	Options []string
	Place   string
	Secret  bool
	ShowIf  string // informative only
	Value   string // filled when rendering
	Checked bool
}

// step is one page of the setup wizard.
type step struct {
	ID, Title, Intro string
	Fields           []field
	// Check is how the installer sees the result before leaving the page.
	Check string
}

var wizardSteps = []step{
	{ID: "mobile", Title: "Mobile", Intro: "The SIM card's access point and PIN. The box dials as soon as you save.",
		Fields: []field{
			{Path: "network.modem.enabled", Label: "Use the mobile modem", Kind: "checkbox"},
			{Path: "network.modem.apn", Label: "APN", Kind: "text", Place: "e.g. internet", Help: "From the mobile operator, e.g. internet or web.vodafone.de. Without it the box cannot connect."},
			{Path: "network.modem.user", Label: "APN user name", Kind: "text", Help: "Leave empty unless the operator gives one."},
			{Path: "network.modem.password", Label: "APN password", Kind: "password", Secret: true},
			{Path: "network.modem.pin", Label: "SIM PIN", Kind: "password", Secret: true, Help: "4 to 8 digits. A wrong PIN is never retried: the box waits for a new one."},
			{Path: "network.modem.roaming", Label: "Roaming", Kind: "select", Options: []string{config.RoamingAllow, config.RoamingDeny},
				Help: "Deny: the box does not go online while the SIM is on a foreign network, so roaming costs nothing. Keep allow for IoT SIMs, which work only roaming."},
			{Path: "network.modem.slot", Label: "Modem slot", Kind: "select", Options: append([]string{""}, config.ModemSlots...),
				Help: "Automatic: found from the modem's USB port (the Signal page shows it). Choose the slot as printed beside it on the board only if the Signal page names the wrong one."},
		}, Check: "modem"},
	{ID: "wan", Title: "Wired WAN", Intro: "The wired uplink port (WAN). DHCP suits most routers.",
		Fields: []field{
			{Path: "network.wan.enabled", Label: "Use the wired WAN port", Kind: "checkbox"},
			{Path: "network.wan.method", Label: "Address", Kind: "select", Options: []string{"dhcp", "static"}},
			{Path: "network.wan.address", Label: "Static address", Kind: "text", Place: "203.0.113.2/24", Help: "Only for static: address with prefix length."},
			{Path: "network.wan.gateway", Label: "Static gateway", Kind: "text", Place: "203.0.113.1"},
			{Path: "network.wan.dns", Label: "DNS servers", Kind: "list", Place: "192.0.2.53, 198.51.100.53", Help: "Separate with commas."},
		}, Check: "wan"},
	{ID: "lan", Title: "LAN", Intro: "The box's own address on the local network.",
		Fields: []field{
			{Path: "network.lan.0.address", Label: "LAN address", Kind: "text", Place: "192.168.1.1/24", Help: "Changing it moves this page: reconnect to the new address."},
			{Path: "network.router", Label: "Share the uplink with LAN devices (NAT)", Kind: "checkbox"},
		}, Check: "lan"},
	{ID: "vpn", Title: "VPN", Intro: "Upload the OpenVPN profile (.ovpn) from your company. Remote admins reach the box through it.",
		Check: "vpn"},
	{ID: "sip", Title: "SIP trunk", Intro: "Where calls go: the PBX and the box's account there.",
		Fields: []field{
			{Path: "gateway.enabled", Label: "Enable the call gateway", Kind: "checkbox"},
			{Path: "gateway.pbx.address", Label: "PBX address", Kind: "text", Place: "pbx.example.net", Help: "Host name or address of the PBX or its SIP proxy, with :port if it is not 5060."},
			{Path: "gateway.pbx.transport", Label: "Transport", Kind: "select", Options: []string{"udp", "tcp", "tls"}},
			{Path: "gateway.trunk.username", Label: "Trunk user name", Kind: "text"},
			{Path: "gateway.trunk.password", Label: "Trunk password", Kind: "password", Secret: true},
			{Path: "gateway.trunk.register", Label: "Register at the PBX", Kind: "checkbox"},
			{Path: "gateway.sip.listen.0.interface", Label: "Answer SIP only on this interface", Kind: "text", Place: "e.g. tun0", Help: "tun0 when the PBX is reached over the VPN, so SIP is not answered elsewhere. Empty: every interface."},
		}, Check: "sip"},
	{ID: "gateway", Title: "Gateway", Intro: "How browsers and the company portal reach the box.",
		Fields: []field{
			{Path: "gateway.media.public_address", Label: "Public IP address", Kind: "text", Place: "198.51.100.7", Help: "Leave empty behind NAT: STUN/TURN are used then."},
			{Path: "gateway.portal.public_url", Label: "Public URL", Kind: "text", Place: "https://box.example.com:8443"},
			{Path: "gateway.portal.listen", Label: "Portal API listen address", Kind: "text", Place: ":8443"},
			{Path: "gateway.media.ice_port", Label: "WebRTC UDP port", Kind: "number"},
			{Path: "gateway.media.rtp_port_min", Label: "PBX RTP ports from", Kind: "number"},
			{Path: "gateway.media.rtp_port_max", Label: "PBX RTP ports to", Kind: "number"},
		}, Check: "gateway"},
	{ID: "time", Title: "Time", Intro: "Clock and time zone: call records and certificates need the right time.",
		Fields: []field{
			{Path: "system.ntp", Label: "NTP servers", Kind: "list", Place: "0.pool.ntp.org, 1.pool.ntp.org", Help: "Separate with commas."},
			{Path: "system.timezone", Label: "Time zone", Kind: "text", Place: "e.g. Europe/Berlin", Help: "Region/City as in the tz database."},
		}, Check: "time"},
}

func findStep(id string) (step, int, bool) {
	for i, s := range wizardSteps {
		if s.ID == id {
			return s, i, true
		}
	}
	return step{}, 0, false
}

// formPath turns the display path (lan.0.address) into a config path
// (lan[0].address).
func formPath(p string) string {
	parts := strings.Split(p, ".")
	var b strings.Builder
	for i, s := range parts {
		if s != "" && s[0] >= '0' && s[0] <= '9' {
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

type wizardView struct {
	Steps []step
	// Working holds the steps whose service reports them working now.
	Working map[string]bool
	Step    step
	Index   int
	Prev    string
	Next    string
	Error   string
	APIKeys []apiKeyView
	// Suggest is the usual APN of the SIM's operator (mobile step).
	Suggest *apndb.Entry
	// Leases are the LAN DHCP server's (LAN step).
	Leases *leasesView
	// VPN is the tunnel and its profile's import notes (VPN step).
	VPN *vpnStepView
	// PUK is the PUK form while the SIM asks for it (mobile step).
	PUK *pukView
}

func (s *Server) pageWizard(w http.ResponseWriter, r *http.Request, se *session) {
	st, i, ok := findStep(r.PathValue("step"))
	if !ok {
		http.Redirect(w, r, "/wizard/"+wizardSteps[0].ID, http.StatusSeeOther)
		return
	}
	v := wizardView{Steps: wizardSteps, Index: i, Working: map[string]bool{}}
	cfg, _ := s.loadConfig()
	status := s.status(r.Context())
	for _, ws := range wizardSteps {
		v.Working[ws.ID] = checkIn("en", status, cfg, ws.Check).State == "ok"
	}
	if st.ID == "lan" {
		l := s.leases(r.Context(), langOf(r))
		v.Leases = &l
	}
	if st.ID == "vpn" {
		v.VPN = vpnStep(langOf(r), status)
	}
	if st.ID == "mobile" {
		v.PUK = pukViewOf(status) // modem_puk.go
	}
	if e, ok := apndb.Lookup(modemIMSI(status.Network)); ok && st.ID == "mobile" {
		v.Suggest = &e
	}
	if i > 0 {
		v.Prev = wizardSteps[i-1].ID
	}
	if i < len(wizardSteps)-1 {
		v.Next = wizardSteps[i+1].ID
	}
	doc, err := s.currentDoc()
	if err != nil {
		v.Error = "The stored config cannot be read: " + err.Error()
	}
	st.Fields = append([]field(nil), st.Fields...)
	for j := range st.Fields {
		f := &st.Fields[j]
		f.Path = formPath(f.Path)
		if doc == nil {
			continue
		}
		val, err := getPath(doc, f.Path)
		if err != nil || val == nil {
			continue
		}
		switch x := val.(type) {
		case bool:
			f.Checked = x
		case []any:
			var parts []string
			for _, e := range x {
				parts = append(parts, fmt.Sprint(e))
			}
			f.Value = strings.Join(parts, ", ")
		case string:
			if !f.Secret { // secrets are never sent to the browser
				f.Value = x
			} else if x != "" {
				f.Place = "(unchanged — type to replace)"
			}
		default:
			f.Value = fmt.Sprint(x)
		}
	}
	v.Step = st
	if st.ID == "gateway" && doc != nil {
		if l, ok := get(doc, "gateway.portal.api_keys").([]any); ok {
			for _, k := range l {
				if m, ok := k.(map[string]any); ok {
					v.APIKeys = append(v.APIKeys, keyView(m))
				}
			}
		}
	}
	s.render(w, r, http.StatusOK, "wizard", s.authedPage(se, "Setup: "+st.Title, "wizard", v))
}

// Check is a wizard step's result as the installer sees it.
type Check struct {
	// State is "ok", "wait" (keep polling), "fail" or "na" (cannot tell:
	// the service is not available).
	State   string `json:"state"`
	Message string `json:"message"`
}

func (s *Server) handleWizardCheck(w http.ResponseWriter, r *http.Request) {
	st, _, ok := findStep(r.PathValue("step"))
	if !ok {
		apiError(w, http.StatusNotFound, errors.New("no such setup step"))
		return
	}
	apiJSON(w, http.StatusOK, s.check(r.Context(), langOf(r), st.Check))
}

func (s *Server) check(ctx context.Context, lang, what string) Check {
	cfg, _ := s.loadConfig()
	return checkIn(lang, s.status(ctx), cfg, what)
}

// checkIn is a step's result from the services' own status, so a tick
// means "working" and survives a reboot. cfg may be nil. The message is
// in lang.
func checkIn(lang string, status Status, cfg *config.Config, what string) Check {
	net := status.Network
	needNet := func() (Check, bool) {
		if net == nil {
			return Check{"na", tr(lang, "The network service is not available, so the result cannot be shown yet.")}, false
		}
		return Check{}, true
	}
	switch what {
	case "modem":
		if cfg != nil && !cfg.Network.Modem.Enabled && strings.TrimSpace(cfg.Network.Modem.APN) != "" {
			// An APN typed with the switch left off: the installer meant it on.
			return Check{"fail", tr(lang, "The mobile modem is switched off, so this APN is not used: tick “Use the mobile modem” and save.")}
		}
		if cfg != nil && !cfg.Network.Modem.Enabled {
			return Check{"ok", tr(lang, "The mobile modem is switched off.")}
		}
		if cfg != nil && strings.TrimSpace(cfg.Network.Modem.APN) == "" {
			return Check{"fail", tr(lang, "No APN: the box cannot connect over the mobile network. Enter the APN from the operator and save.")}
		}
		if c, ok := needNet(); !ok {
			return c
		}
		if net.Modem == nil {
			return Check{"wait", tr(lang, "Looking for the modem…")}
		}
		return modemCheck(lang, net.Modem, cfg, time.Now())
	case "wan", "lan":
		if c, ok := needNet(); !ok {
			return c
		}
		if what == "lan" {
			if len(net.LAN) == 0 {
				return Check{"wait", tr(lang, "Applying the LAN address…")}
			}
			l := net.LAN[0]
			if l.Error != "" {
				return Check{"fail", trf(lang, "LAN %s: %s", l.Role, trMessage(lang, l.Error))}
			}
			if l.DHCPError != "" {
				// The address alone is no working LAN: its devices ask DHCP.
				return Check{"fail", trf(lang, "LAN %s has %s, but its DHCP server is not running: %s. Devices on the LAN get no address until it runs; the box tries again every 10 s.", l.Interface, l.Address, trMessage(lang, l.DHCPError))}
			}
			return Check{"ok", trf(lang, "LAN %s has %s.", l.Interface, l.Address)}
		}
		for _, u := range net.Uplinks {
			if u.Name != "wan" {
				continue
			}
			state := u.State
			switch state {
			case "healthy":
				return Check{"ok", trf(lang, "Wired WAN is up with %s.", u.Address)}
			case "no-carrier", "absent":
				return Check{"fail", tr(lang, "No cable in the WAN port: plug in the cable from the router, or switch the wired WAN off above if the box uses only the mobile network.")}
			case "disabled":
				return Check{"ok", tr(lang, "Wired WAN is switched off.")}
			}
			return Check{"wait", trf(lang, "Wired WAN: %s…", tr(lang, state))}
		}
		return Check{"wait", tr(lang, "Waiting for the wired WAN…")}
	case "vpn":
		p := vpnPanel(lang, status)
		if p.Unavailable != "" {
			return Check{"na", p.Unavailable}
		}
		v := status.VPN
		switch v.State {
		case vpnapi.StateConnected:
			if v.TunnelAddress == "" && v.TunnelAddress6 == "" && v.LastError != "" {
				// up, but with no address nothing passes (a bridge
				// leaving addresses to DHCP): not a tick
				return Check{"fail", trf(lang, "VPN: %s — %s", tr(lang, p.State), trMessage(lang, v.LastError))}
			}
			return Check{"ok", trf(lang, "VPN connected to %s with tunnel address %s.", orDash(v.Remote), orDash(v.TunnelAddress))}
		case vpnapi.StateNeedsPassphrase:
			return Check{"fail", tr(lang, "The profile's key needs its passphrase: type it above and tap “Upload and connect” (the file need not be chosen again).")}
		case vpnapi.StateNeedsLogin:
			return Check{"fail", tr(lang, "The VPN server asks for a user name and password: type them above and tap “Upload and connect” (the file need not be chosen again).")}
		case vpnapi.StateNoProfile:
			return Check{"wait", tr(lang, "No VPN profile yet: upload the .ovpn file from your company.")}
		}
		if v.LastError != "" {
			return Check{"wait", trf(lang, "VPN: %s — %s", tr(lang, p.State), trMessage(lang, v.LastError))}
		}
		return Check{"wait", trf(lang, "VPN: %s…", tr(lang, orDash(p.State)))}
	case "sip":
		// A PBX typed with the gateway left off: the installer meant it on.
		// The gateway's own report says whether it is off.
		gwOff := status.Gateway != nil && !status.Gateway.Enabled
		if gwOff && cfg != nil && !cfg.Gateway.Enabled && cfg.Gateway.PBX.Address != "" {
			return Check{"fail", tr(lang, "The call gateway is switched off, so this PBX is not used: tick “Enable the call gateway” and save.")}
		}
		return sipCheck(lang, status)
	case "gateway":
		if status.Gateway == nil {
			return Check{"na", tr(lang, "Gateway service not available.")}
		}
		return Check{"ok", tr(lang, "Applied by the gateway.")}
	case "time":
		return timeCheck(lang, status, cfg)
	}
	return Check{"na", tr(lang, "Saved.")}
}

// needsInstaller says whether a modem state with an error waits for the
// installer (the SIM's PIN or PUK, a faulty modem) rather than for time.
func needsInstaller(state string) bool {
	return state == "sim" || state == "faulty"
}

// sipCheck reads the gateway's registration, "KIND: what happened and
// what to do": only a rejection is about the user name and password.
func sipCheck(lang string, status Status) Check {
	p, _ := gatewayPanel(lang, status)
	if p.Unavailable != "" {
		return Check{"na", p.Unavailable}
	}
	reg := status.Gateway.Registration
	kind, detail, _ := strings.Cut(reg, ": ")
	switch {
	case p.State == "disabled":
		return Check{"ok", tr(lang, "The call gateway is switched off.")}
	case p.State == "registered":
		return Check{"ok", trf(lang, "Trunk registered at the PBX %s.", orDash(status.Gateway.PBX))}
	case kind == "rejected":
		return Check{"fail", tr(lang, "The PBX refused the registration: check user name and password.")}
	case kind == "unreachable" || kind == "refused" || kind == "timeout" || kind == "self" || kind == "failed":
		if detail == "" {
			detail = trf(lang, "The registration failed (%s).", kind)
		}
		return Check{"fail", detail}
	}
	return Check{"wait", trf(lang, "Trunk: %s…", tr(lang, orDash(p.State)))}
}

// timeCheck shows the box's clock in the chosen zone.
func timeCheck(lang string, status Status, cfg *config.Config) Check {
	loc, name := time.UTC, "UTC"
	if cfg != nil && cfg.System.Timezone != "" {
		if l, err := time.LoadLocation(cfg.System.Timezone); err == nil {
			loc, name = l, cfg.System.Timezone
		}
	}
	t := status.Time.In(loc)
	if t.Year() < 2024 {
		return Check{"fail", trf(lang, "The box's clock says %s, which is wrong: tap “Use my phone's time” or check the NTP servers.", t.Format("2006-01-02 15:04"))}
	}
	return Check{"ok", trf(lang, "The box's clock is now %s %s time (%s).", t.Format("2006-01-02 15:04:05"), name, t.Format("MST"))}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// handleVPNProfile hands an uploaded OpenVPN profile (.ovpn, or an
// archive with its files), with optional passphrase and login, to the VPN
// manager in netctl, which checks it fully, stores it and connects.
func (s *Server) handleVPNProfile(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, vpnapi.MaxUploadSize+64<<10)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		apiError(w, http.StatusBadRequest, errors.New("profile: send a multipart form with the file in field \"profile\""))
		return
	}
	if err := r.ParseMultipartForm(vpnapi.MaxUploadSize + 64<<10); err != nil {
		err = wrapTooLargeAt(err, vpnapi.MaxUploadSize)
		apiError(w, uploadStatus(err), fmt.Errorf("profile: %w", err))
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, h, err := r.FormFile("profile")
	if err != nil {
		apiError(w, http.StatusBadRequest, errors.New("profile: choose the .ovpn file"))
		return
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	if err := notProfile(fileKind(head[:n])); err != nil { // filekind.go
		apiError(w, http.StatusBadRequest, fmt.Errorf("profile: %w", err))
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		apiError(w, http.StatusInternalServerError, fmt.Errorf("profile: %w", err))
		return
	}
	if h.Size > vpnapi.MaxUploadSize {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("profile: %w", errTooLarge{vpnapi.MaxUploadSize}))
		return
	}
	var cr vpnapi.Credentials
	for _, k := range []struct {
		name string
		dst  **string
	}{{"passphrase", &cr.Passphrase}, {"username", &cr.Username}, {"password", &cr.Password}} {
		if v := r.FormValue(k.name); v != "" {
			*k.dst = &v
		}
	}
	if socketAbsent("netctl") {
		apiError(w, http.StatusServiceUnavailable, errors.New("VPN service not available: the profile was not stored"))
		return
	}
	info, err := vpnapi.NewClient().Import(r.Context(), f, filepath.Base(h.Filename), cr)
	if err != nil {
		apiError(w, http.StatusBadRequest, fmt.Errorf("profile: %s", profileWords(langOf(r), plainWords(err.Error()))))
		return
	}
	s.log.Info("VPN profile uploaded", "name", info.Name, "from", clientAddr(r))
	lang := langOf(r)
	msg := trf(lang, "Profile %s stored; the VPN is connecting.", info.Name)
	if n := uploadNotes(lang, info.Notes); n != "" {
		msg += " " + n
	}
	apiJSON(w, http.StatusOK, VPNProfileResult{OK: true, Message: msg, Profile: &info})
}

// VPNProfileResult answers a profile upload.
type VPNProfileResult struct {
	OK      bool                `json:"ok"`
	Message string              `json:"message"`
	Profile *vpnapi.ProfileInfo `json:"profile,omitempty"`
}

func wrapTooLargeAt(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || strings.Contains(err.Error(), "too large") {
		return errTooLarge{limit}
	}
	return err
}

// apiKeyView is a stored key as the wizard lists it: its name and what it
// may call ("" when nothing).
type apiKeyView struct {
	Name, Destinations, FromDomains string
	Legacy                          bool
}

func keyView(m map[string]any) apiKeyView {
	join := func(v any) string {
		var parts []string
		l, _ := v.([]any)
		for _, e := range l {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, ", ")
	}
	_, hasD := m["destinations"]
	_, hasF := m["from_domains"]
	return apiKeyView{Name: gets(m, "name"), Destinations: join(m["destinations"]), FromDomains: join(m["from_domains"]), Legacy: !hasD && !hasF}
}

// APIKeyResult carries a new portal API key, shown this one time, with
// what it may call and, when that is nothing, a sentence that says so.
type APIKeyResult struct {
	Name         string   `json:"name"`
	Key          string   `json:"key"`
	Destinations []string `json:"destinations"`
	FromDomains  []string `json:"from_domains"`
	Warning      string   `json:"warning,omitempty"`
}

// keyCallsNothing is said when a key is created without what it may call:
// the gateway refuses every call of a key with an empty list.
const keyCallsNothing = "This key can call nothing until you list what it may call: destinations (queue names, agent URIs or patterns) and the domains its callers come from."

// handleNewAPIKey adds a portal API key (its hash goes into the config)
// with the destinations and caller domains it may use.
func (s *Server) handleNewAPIKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name         string   `json:"name"`
		Destinations []string `json:"destinations"`
		FromDomains  []string `json:"from_domains"`
	}
	if err := readJSONLimit(w, r, &req, 16384); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 40 {
		apiError(w, http.StatusBadRequest, errors.New("name: give the key a name (at most 40 characters), e.g. portal"))
		return
	}
	req.Destinations, req.FromDomains = trimList(req.Destinations), trimList(req.FromDomains)
	defer s.lockConfig()()
	old, err := s.currentDoc()
	if err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	next, _ := toDocCopy(old)
	keys, _ := get(next, "gateway.portal.api_keys").([]any)
	for _, k := range keys {
		if m, ok := k.(map[string]any); ok && gets(m, "name") == req.Name {
			apiError(w, http.StatusConflict, errors.New("name: a key with this name exists"))
			return
		}
	}
	key := "gwk_" + randomString(24)
	sum := sha256.Sum256([]byte(key))
	// Both lists are always written: a key without them would be read as
	// one from before allow-lists (named queues from anywhere).
	entry := map[string]any{"name": req.Name, "sha256": hex.EncodeToString(sum[:]),
		"destinations": anyList(req.Destinations), "from_domains": anyList(req.FromDomains)}
	prefix := fmt.Sprintf("gateway.portal.api_keys[%d]", len(keys))
	if err := setPath(next, prefix, entry); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	// A bad entry is named by its form field (destinations, from_domains).
	if res, _ := s.applyConfig(r.Context(), old, next, true, false); !res.OK {
		for _, fe := range res.Errors {
			if f, ok := strings.CutPrefix(fe.Field, prefix+"."); ok {
				f, _, _ = strings.Cut(f, "[")
				apiError(w, http.StatusBadRequest, errors.New(f+": "+fe.Message))
				return
			}
		}
	}
	res, status := s.applyConfig(r.Context(), old, next, false, false)
	if !res.OK {
		apiJSON(w, status, res)
		return
	}
	out := APIKeyResult{Name: req.Name, Key: key, Destinations: req.Destinations, FromDomains: req.FromDomains}
	if len(req.Destinations) == 0 || len(req.FromDomains) == 0 {
		out.Warning = tr(langOf(r), keyCallsNothing)
	}
	apiJSON(w, http.StatusCreated, out)
}

// trimList drops blanks and surrounding spaces from a typed list.
func trimList(l []string) []string {
	out := []string{}
	for _, e := range l {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func anyList(l []string) []any {
	out := make([]any, 0, len(l))
	for _, e := range l {
		out = append(out, e)
	}
	return out
}
