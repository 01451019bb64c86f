package netctl

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"

	"edgebox/internal/atomicfile"
)

// renderResolvConf is the resolv.conf for the active uplink's DNS servers.
func renderResolvConf(uplink string, dns []netip.Addr) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# written by netctl from uplink %s; changes are overwritten\n", uplink)
	for i, d := range dns {
		if i == 3 { // the resolver reads at most three
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	return b.Bytes()
}

// writeResolvConf replaces path atomically when the content changes.
func writeResolvConf(path, uplink string, dns []netip.Addr) error {
	data := renderResolvConf(uplink, dns)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	return nil
}
