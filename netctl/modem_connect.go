package netctl

// The connecting state: dial the data connection (the modem's own, or
// pppd on a PPP-only modem) and configure the uplink.

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/paths"
	"edgebox/modem"
)

// connect dials the data connection and configures the uplink.
func (s *modemSession) connect(ctx context.Context, cfg config.Modem, _ string) step {
	m, drv := s.m, s.drv
	if cfg.APN == "" {
		m.setState(ModemConnecting, "no APN configured: set network.modem.apn")
		return s.wait(ctx, 30*time.Second)
	}
	m.setState(ModemConnecting, "")
	apn := modem.APN{Name: cfg.APN, User: cfg.User, Password: cfg.Password}
	if cfg.User != "" {
		apn.Auth = modem.AuthCHAP
	}
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	err := drv.Connect(c, apn)
	cancel()
	if err != nil {
		if !s.notResponding(err) {
			m.setState(ModemConnecting, sayConnectError(err, cfg.APN))
		}
		return s.wait(ctx, 10*time.Second)
	}
	s.upSince = time.Now()
	if s.ppp {
		if st := s.startPPP(ctx, apn); st != stepNext {
			return st
		}
	}
	if s.method == config.MethodModem || s.method == "" && drv.PreferModemAddress() && !s.ppp {
		c, cancel := cmdCtx(ctx)
		ip, err := drv.Address(c)
		cancel()
		if err != nil {
			m.setState(ModemConnecting, "the modem did not tell its address: "+sayModemError(err))
		} else {
			m.setStaticAddr(&addrConfig{Address: ip.Address, Gateway: ip.Gateway, DNS: ip.DNS})
		}
	} else if !s.ppp {
		// DHCP on the modem's link: the DNS servers the modem reports,
		// for a lease that names none (modem_dns.go).
		m.noteModemDNS(ctx, drv)
	}
	m.setState(ModemConnected, "")
	return stepNext
}

// startPPP lends the AT port to pppd when it is shared, runs pppd and
// waits for its address.
func (s *modemSession) startPPP(ctx context.Context, apn modem.APN) step {
	m, drv := s.m, s.drv
	params := drv.PPP(apn)
	if params.SharedATPort {
		// One tty for AT and PPP: the engine lets go of it until pppd
		// has exited.
		c, cancel := cmdCtx(ctx)
		err := drv.Suspend(c)
		cancel()
		if err != nil {
			m.setState(ModemConnecting, "the AT port could not be lent to pppd: "+sayModemError(err))
			return s.wait(ctx, s.redialWait)
		}
		s.suspended = true
	}
	s.dataPort = ""
	if !params.SharedATPort {
		s.dataPort = params.Port
	}
	var err error
	s.pppd, err = startPPPD(params, filepath.Join(paths.RunDir(), "ppp"), m.log)
	if err != nil {
		m.setState(ModemConnecting, "pppd did not start: "+err.Error())
		if !s.endPPP() {
			return stepEnd
		}
		return s.wait(ctx, s.redialWait)
	}
	m.mu.Lock()
	m.pppIface = pppIface
	m.mu.Unlock()
	m.setIface(pppIface)
	waitAddr := m.pppAddress
	if waitAddr == nil {
		waitAddr = waitPPPAddress
	}
	c, err := waitAddr(ctx, pppIface, s.pppd, 45*time.Second)
	if err != nil {
		m.setState(ModemConnecting, err.Error())
		m.pppDown()
		if !s.endPPP() {
			return stepEnd
		}
		return s.wait(ctx, s.redialWait)
	}
	m.setStaticAddr(c)
	return stepNext
}

// endPPP stops pppd (waiting for it to exit) and only then gives the AT
// port back to the engine; false when the port could not be resumed (the
// session must reopen the modem).
func (s *modemSession) endPPP() bool {
	ran := s.pppd != nil
	stopPPPD(s.pppd, s.m.log)
	s.pppd = nil
	if !s.suspended {
		if ran && s.dataPort != "" {
			// A card that ignores DTR is still in the call on its data
			// port: the next chat would talk into it.
			c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			if esc, err := modem.EscapeDataPort(c, s.dataPort); err != nil {
				s.m.log.Warn("modem data port after pppd", "port", s.dataPort, "err", err)
			} else if esc {
				s.m.log.Info("modem data port left in data mode after pppd: escaped with +++ and ATH", "port", s.dataPort)
			}
			cancel()
		}
		return true
	}
	s.suspended = false
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.drv.Resume(c); err != nil {
		s.m.log.Warn("modem resume after pppd", "err", err)
		if errors.Is(err, modem.ErrRemoved) {
			s.m.noteRemoved() // pulled out during the call
			return false
		}
		s.m.setState(ModemOpening, "the AT port could not be taken back from pppd: "+sayModemError(err))
		return false
	}
	return true
}
