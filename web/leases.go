package web

import (
	"context"
	"time"

	"edgebox/internal/localapi"
)

// lanLeases mirrors netctl's GET /v1/leases (netctl.LANLeases), read by
// JSON so web does not link netctl.
type lanLeases struct {
	Servers []struct {
		Interface string `json:"interface"`
		First     string `json:"first"`
		Last      string `json:"last"`
		Running   bool   `json:"running"`
		Error     string `json:"error"`
	} `json:"servers"`
	Leases []struct {
		Interface string    `json:"interface"`
		MAC       string    `json:"mac"`
		Address   string    `json:"address"`
		Hostname  string    `json:"hostname"`
		Expires   time.Time `json:"expires"`
	} `json:"leases"`
}

// leasesView is the LAN's DHCP server for the LAN step: who got an
// address, or why there is no server.
type leasesView struct {
	Error string
	Off   bool
	Data  lanLeases
}

func (s *Server) leases(ctx context.Context) leasesView {
	if socketAbsent("netctl") {
		return leasesView{Error: "The network service is not available: the DHCP leases cannot be shown."}
	}
	var l lanLeases
	if err := localapi.NewClient("netctl").Get(ctx, "/v1/leases", &l); err != nil {
		return leasesView{Error: "The DHCP leases cannot be read: " + plainWords(err.Error())}
	}
	return leasesView{Data: l, Off: len(l.Servers) == 0}
}
