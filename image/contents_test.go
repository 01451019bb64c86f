package image

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// imageFiles are the files outside the Go programs that a service opens
// or runs on the box, with who needs them. A file the host has and the
// initramfs lacks works in every host test and fails only on a box.
var imageFiles = map[string]string{
	"usr/sbin/openvpn": "netctl/openvpn (Options.Binary)",
	"usr/lib/x86_64-linux-gnu/ossl-modules/legacy.so": "openvpn: BF-CBC profiles (providers legacy)",
	"sbin/mke2fs":         "init: making /perm",
	"sbin/e2fsck":         "init: checking /perm",
	"usr/sbin/pppd":       "netctl/pppd.go",
	"usr/sbin/chat":       "modem: the PPP dial script",
	"bin/sh":              "pppd runs its connect script with sh -c",
	"etc/edgebox/version": "internal/version",
	// Go's system roots: the gateway's SIP over TLS with no sip.tls_ca.
	"etc/ssl/certs/ca-certificates.crt": "gateway: SIP TLS toward a PBX with a public certificate",
}

// TestInitramfsHasWhatServicesUse lists the built initramfs and wants
// every file a service uses (the CA bundle was missing: TLS toward a PBX
// with a public certificate failed only on the box).
func TestInitramfsHasWhatServicesUse(t *testing.T) {
	img := builtImage(t)
	archive := filepath.Join(filepath.Dir(img), "initramfs.cpio.gz")
	out, err := exec.Command("sh", "-c", "zstd -dc "+archive+" | cpio -t --quiet").Output()
	if err != nil {
		t.Fatalf("list %s: %v", archive, err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		have[strings.TrimPrefix(l, "./")] = true
	}
	for f, who := range imageFiles {
		if !have[f] {
			t.Errorf("the initramfs has no /%s (%s)", f, who)
		}
	}
}

// TestInitramfsResolvConfNamesNoServer: until netctl writes the uplink's
// DNS servers, /etc/resolv.conf names none. u-root's base archive named
// 8.8.8.8, so the box's first lookups went to a public resolver that no
// one configured (and that a site's firewall may well block).
func TestInitramfsResolvConfNamesNoServer(t *testing.T) {
	img := builtImage(t)
	archive := filepath.Join(filepath.Dir(img), "initramfs.cpio.gz")
	out, err := exec.Command("sh", "-c", "zstd -dc "+archive+" | cpio -i --quiet --to-stdout etc/resolv.conf").Output()
	if err != nil {
		t.Fatalf("read etc/resolv.conf from %s: %v", archive, err)
	}
	if len(out) == 0 {
		t.Fatal("the initramfs has no /etc/resolv.conf")
	}
	if strings.Contains(string(out), "nameserver") {
		t.Errorf("the initramfs's /etc/resolv.conf names a server before any uplink gave one:\n%s", out)
	}
}
