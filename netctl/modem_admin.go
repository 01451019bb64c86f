package netctl

// The disconnected state and power-down: the admin's connect and
// disconnect, and the modem's last act when netctl stops.

import (
	"context"
	"time"
)

// connect and disconnect are the API's.
func (m *modemManager) connect() {
	m.mu.Lock()
	m.adminDown = false
	m.mu.Unlock()
	m.request("connect")
}

func (m *modemManager) disconnect() {
	m.mu.Lock()
	m.adminDown = true
	m.mu.Unlock()
	m.request("disconnect")
}

// shutdown takes the data link down, then switches the radio off
// (Huawei +CFUN=0, Ericsson +CFUN=4: the profile knows which).
func (m *modemManager) shutdown() {
	m.cancel()
	<-m.done
}

// powerDown is the modem's last act: link down, then radio off.
func (m *modemManager) powerDown(drv ModemDriver) {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := drv.Disconnect(c); err != nil {
		m.log.Warn("modem disconnect at shutdown", "err", err)
	}
	m.mu.Lock()
	ifaces := []string{m.iface, m.pppIface}
	m.mu.Unlock()
	for _, i := range ifaces {
		if i != "" {
			linkDown(i)
		}
	}
	if err := drv.RadioOff(c); err != nil {
		m.log.Warn("modem radio off at shutdown", "err", err)
		return
	}
	m.log.Info("modem radio off")
}
