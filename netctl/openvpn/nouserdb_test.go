package openvpn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoUserDatabase: the box's initramfs has no /etc/passwd, /etc/group
// or nsswitch.conf, so openvpn must never be asked to look up a user
// ("failed to find UID for user root ... Exiting due to fatal error"
// refused every profile on the image). openvpn runs here in a private mount
// namespace where those three files are empty (nsswitch.conf too, or
// systemd's NSS module would make up "root"), for the dry run and the
// tunnel.
func TestNoUserDatabase(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc)
	wrapper := filepath.Join(t.TempDir(), "openvpn-without-users")
	script := "#!/bin/sh\n" +
		"exec unshare -m sh -c 'mount --bind /dev/null /etc/passwd && mount --bind /dev/null /etc/group && mount --bind /dev/null /etc/nsswitch.conf && exec /usr/sbin/openvpn \"$@\"' openvpn \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newTestManager(t, tn, Options{Binary: wrapper})
	cert, key := pki.valid(t, "box-nousers", false)
	if err := m.Import(strings.NewReader(clientProfile(tn, pki, cert, key, tc)), "plain.ovpn"); err != nil {
		t.Fatalf("import without a user database: %v", err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 30*time.Second, "CONNECTED without a user database", connected)
}
