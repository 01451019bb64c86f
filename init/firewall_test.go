package main

import (
	"strings"
	"testing"

	"edgebox/internal/config"
)

func TestPrintLANAddress(t *testing.T) {
	var b strings.Builder
	printLANAddress(&b, config.DefaultNetwork())
	if got := b.String(); !strings.Contains(got, "http://192.168.1.1/ (192.168.1.1/24)") {
		t.Errorf("console line %q does not give the LAN address", got)
	}
	b.Reset()
	printLANAddress(&b, config.Network{})
	if got := b.String(); !strings.Contains(got, "no LAN address") {
		t.Errorf("no LAN: %q", got)
	}
}
