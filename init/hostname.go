package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
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
