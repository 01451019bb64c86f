package netctl

// A modem's DHCP that leaves the DNS option out: the lease has an address
// and a router, and resolv.conf got no server, so no name resolved (the
// VPN's server, the PBX, NTP) while the status showed the modem
// connected. The servers the modem reports for its connection (Huawei
// ^DHCP, Ericsson *E2IPCFG) stand in for them.

import (
	"context"
	"slices"
)

// noteModemDNS asks the modem for its connection's DNS servers and gives
// them to the modem uplink (ignored where the modem does not tell).
func (m *modemManager) noteModemDNS(ctx context.Context, drv ModemDriver) {
	c, cancel := cmdCtx(ctx)
	ip, err := drv.Address(c)
	cancel()
	if err != nil || len(ip.DNS) == 0 {
		return
	}
	m.mu.Lock()
	m.modemDNS = slices.Clone(ip.DNS)
	m.mu.Unlock()
	m.giveModemDNS()
}

// giveModemDNS puts the modem's DNS servers on the modem uplink (also a
// rebuilt one).
func (m *modemManager) giveModemDNS() {
	s := m.s
	if s == nil || m.voiceSlot != "" {
		return
	}
	m.mu.Lock()
	dns := slices.Clone(m.modemDNS)
	m.mu.Unlock()
	s.mu.Lock()
	u := s.uplinkLocked("modem")
	changed := u != nil && !slices.Equal(u.modemDNS, dns)
	if changed {
		u.modemDNS = dns
	}
	s.mu.Unlock()
	if changed {
		s.wake()
	}
}
