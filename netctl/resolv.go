package netctl

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"

	"edgebox/internal/atomicfile"
)

// renderResolvConf is the resolv.conf for the active uplink's DNS servers,
// with search domains (the VPN's, only while its DNS answers them).
func renderResolvConf(uplink string, dns []netip.Addr, search ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# written by netctl from uplink %s; changes are overwritten\n", uplink)
	if line := searchLine(search); line != "" {
		b.WriteString(line + "\n")
	}
	for i, d := range dns {
		if i == 3 { // the resolver reads at most three
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	return b.Bytes()
}

// searchLine is resolv.conf's search line for domains, within what
// glibc before 2.26 reads (6 domains, 256 characters): the first ones,
// which the server pushed first, are kept.
func searchLine(domains []string) string {
	line := "search"
	for i, d := range domains {
		if i == 6 || len(line)+1+len(d) > 256 {
			break
		}
		line += " " + d
	}
	if line == "search" {
		return ""
	}
	return line
}

// writeResolvConf replaces path atomically when the content changes.
func writeResolvConf(path, uplink string, dns []netip.Addr, search ...string) error {
	data := renderResolvConf(uplink, dns, search...)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	return nil
}
