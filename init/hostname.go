package main

import (
	"edgebox/boards"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// defaultHostname is "edgebox-" plus the last three bytes of the first
// NIC's MAC, so boxes on one LAN tell themselves apart before anyone names
// them. It reads sysfs below sysRoot.
func defaultHostname(sysRoot, iface string) string {
	if iface == "" {
		return "edgebox"
	}
	b, err := os.ReadFile(filepath.Join(sysRoot, "class/net", iface, "address"))
	if err != nil {
		return "edgebox"
	}
	mac, err := net.ParseMAC(strings.TrimSpace(string(b)))
	if err != nil || len(mac) < 3 {
		return "edgebox"
	}
	n := len(mac)
	return fmt.Sprintf("edgebox-%02x%02x%02x", mac[n-3], mac[n-2], mac[n-1])
}

// setHostname names the host: the configured name, else one made from the
// first NIC's MAC.
func setHostname(configured string, board boards.Profile, log *slog.Logger) string {
	hostname := configured
	if hostname == "" {
		hostname = defaultHostname("/sys", waitFirstEthernet(board))
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		log.Error("set hostname", "err", err)
	}
	os.WriteFile("/etc/hostname", []byte(hostname+"\n"), 0o644)
	return hostname
}

// waitFirstEthernet gives the NIC drivers a moment to register their
// interfaces, since the default hostname comes from the first NIC's MAC.
func waitFirstEthernet(board boards.Profile) string {
	deadline := time.Now().Add(3 * time.Second)
	for {
		if name := board.FirstEthernet("/sys"); name != "" || time.Now().After(deadline) {
			return name
		}
		time.Sleep(100 * time.Millisecond)
	}
}
