package netctl

import (
	"edgebox/internal/config"
	"edgebox/netctl/openvpn"
)

// WireOpenVPN builds the OpenVPN manager netctl supervises for the vpn
// section cfg: its API is mounted under /v1/vpn/ on s.Mux (netctl's
// socket), and it is told the active uplink each time the default route
// moves, so the tunnel follows the uplink. opt is for tests (folders,
// binary); its Interface and Logger come from cfg and s. Call before
// s.Run; the caller runs the manager (Run) and applies vpn.enabled on
// reload (SetEnabled).
func WireOpenVPN(s *Service, cfg config.VPN, opt openvpn.Options) (*openvpn.Manager, error) {
	opt.Interface = cfg.Interface
	opt.Logger = s.log.With("part", "vpn")
	// pushed routes inside the LAN are refused after each connect
	// (vpnroutes_linux.go)
	prev := opt.OnChange
	opt.OnChange = func(st openvpn.Status) {
		if prev != nil {
			prev(st)
		}
		s.setVPNDNS(st) // split DNS for the VPN's domains (landns_vpn.go)
		if st.State == openvpn.StateConnected && st.Interface != "" {
			go s.watchTunnelRoutes(st.Interface)
		}
	}
	vpn, err := openvpn.New(opt)
	if err != nil {
		return nil, err
	}
	vpn.SetEnabled(cfg.Enabled)
	vpn.Routes(s.Mux)
	s.OnUplinkChange = append(s.OnUplinkChange, func(ch UplinkChange) { vpn.SetUplink(ch.Name != "", ch.Name) })
	return vpn, nil
}
