package web

import (
	"net/netip"

	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// lanMoves says, for each LAN port whose address c changes from old,
// where the box will be and what a device on the LAN does to follow it
// (netctl keeps the old address for netapi.LANMoveGrace).
func lanMoves(lang string, old map[string]any, c *config.Config) []LANMove {
	oc, err := fromDoc(old)
	if err != nil {
		return nil
	}
	mins := int(netapi.LANMoveGrace.Minutes())
	var out []LANMove
	for i, p := range c.Network.LAN {
		if i >= len(oc.Network.LAN) || oc.Network.LAN[i].Role != p.Role {
			continue
		}
		from, ferr := netip.ParsePrefix(oc.Network.LAN[i].Address)
		to, terr := netip.ParsePrefix(p.Address)
		if ferr != nil || terr != nil || from.Addr() == to.Addr() {
			continue
		}
		m := LANMove{Role: p.Role, From: from.Addr().String(), To: to.Addr().String(),
			URL: "https://" + to.Addr().String() + "/", OldAddressMinutes: mins}
		if from.Masked() == to.Masked() {
			m.Message = trf(lang, "The box is now at %s on its LAN port: open %s. Devices on the LAN keep their addresses. The old address %s still answers for %d minutes.",
				m.To, m.URL, m.From, mins)
		} else {
			m.Message = trf(lang, "The box is now at %s on its LAN port (network %s): open %s. A device that got its address from the box still has one in the old network: unplug its cable and plug it in again (or turn its Wi-Fi off and on) so that it gets a new one, or give it a fixed address in %s. Until then the box still answers on %s for %d minutes.",
				m.To, to.Masked().String(), m.URL, to.Masked().String(), m.From, mins)
		}
		out = append(out, m)
	}
	return out
}
