package web

import (
	"context"

	"edgebox/api/netapi"
)

// leasesView is the LAN's DHCP server for the LAN step: who got an
// address, or why there is no server.
type leasesView struct {
	Error string
	Off   bool
	Data  netapi.LANLeases
}

func (s *Server) leases(ctx context.Context, lang string) leasesView {
	if socketAbsent(netapi.SocketName) {
		return leasesView{Error: tr(lang, "The network service is not available: the DHCP leases cannot be shown.")}
	}
	l, err := netapi.NewClient().LANLeases(ctx)
	if err != nil {
		return leasesView{Error: trf(lang, "The DHCP leases cannot be read: %s", plainWords(err.Error()))}
	}
	return leasesView{Data: l, Off: len(l.Servers) == 0}
}
