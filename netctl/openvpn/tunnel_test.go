package openvpn

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestTunnel connects to a real openvpn server, passes traffic, reconnects
// at once on an uplink change and survives the server dying.
func TestTunnel(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	srv := startServer(t, tn, pki, tc)
	m, states := newTestManagerLog(t, tn, Options{})
	cert, key := pki.valid(t, "box1", false)
	if err := m.Import(strings.NewReader(clientProfile(tn, pki, cert, key, tc)), "box1.ovpn"); err != nil {
		t.Fatalf("import: %v", err)
	}
	runManager(t, m)
	waitStatus(t, m, 5*time.Second, "WAITING_FOR_UPLINK", func(st Status) bool { return st.State == StateWaitingForUplink && st.PID == 0 })
	m.SetUplink(true, "wan")
	st := waitStatus(t, m, 20*time.Second, "CONNECTED", connected)
	if !strings.HasPrefix(st.TunnelAddress, tn.tunNet+".") || st.Remote != tn.srvIP+":1194" || st.ConnectedSince == nil || st.Interface != "tun0" {
		t.Fatalf("connected status wrong: %+v", st)
	}

	// Only root reaches the management socket.
	if fi, err := os.Stat(m.opt.RunDir); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("management folder mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Join(m.opt.RunDir, "mgmt.sock")); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("management socket: %v", err)
	}

	// Traffic through the tunnel: ping and TCP to the server's tunnel address.
	serverTun := tn.tunNet + ".1"
	mustRun(t, "ip", "netns", "exec", tn.cli, "ping", "-c", "2", "-i", "0.2", "-W", "2", serverTun)
	var l net.Listener
	if err := testenv.DoIn(tn.srv, func() (err error) { l, err = net.Listen("tcp", serverTun+":7000"); return }); err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.Copy(c, c)
	}()
	if err := testenv.DoIn(tn.cli, func() error {
		c, err := net.DialTimeout("tcp", serverTun+":7000", 5*time.Second)
		if err != nil {
			t.Errorf("dial through tunnel: %v", err)
			return nil
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		msg := strings.Repeat("edgebox", 1000)
		go c.Write([]byte(msg))
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Errorf("echo through tunnel: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, 5*time.Second, "byte counts", func(st Status) bool { return st.BytesIn > 7000 && st.BytesOut > 7000 })

	// A change of uplink makes openvpn reconnect at once rather than after
	// its ping timeout, in the same process.
	pid := st.PID
	mark := states.len()
	m.SetUplink(true, "lte")
	st = waitStatus(t, m, 20*time.Second, "CONNECTED again after uplink change", func(st Status) bool {
		return connected(st) && states.seen(mark, StateReconnecting)
	})
	if st.PID != pid {
		t.Errorf("uplink change restarted the process (pid %d -> %d) instead of signalling it", pid, st.PID)
	}
	if st.Uplink != "lte" {
		t.Errorf("uplink = %q, want lte", st.Uplink)
	}

	// The server dies: the box notices (ping-restart), keeps trying, and
	// comes back when the server does.
	mark = states.len()
	srv.kill()
	waitStatus(t, m, 20*time.Second, "RECONNECTING", func(Status) bool { return states.seen(mark, StateReconnecting) })
	waitStatus(t, m, 10*time.Second, "an error explaining the outage", func(st Status) bool {
		return st.LastError == ErrPingTimeout || strings.HasPrefix(st.LastError, "server unreachable")
	})
	srv.start()
	waitStatus(t, m, 30*time.Second, "CONNECTED after server restart", connected)
	mustRun(t, "ip", "netns", "exec", tn.cli, "ping", "-c", "1", "-W", "2", serverTun)

	// openvpn dying is noticed and it is started again (with backoff).
	st = m.Status()
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, m, 20*time.Second, "CONNECTED after openvpn was killed", func(s Status) bool {
		return connected(s) && s.PID != st.PID && s.Restarts > st.Restarts
	})

	// A new profile takes effect at once, without a reboot.
	cert2, key2 := pki.valid(t, "box1-renewed", false)
	if err := m.Import(strings.NewReader(clientProfile(tn, pki, cert2, key2, tc)), "renewed.ovpn"); err != nil {
		t.Fatalf("import renewed profile: %v", err)
	}
	waitStatus(t, m, 20*time.Second, "CONNECTED with the new profile", func(s Status) bool {
		return connected(s) && s.PID != st.PID && s.Profile != nil && s.Profile.Name == "renewed.ovpn"
	})
	if !strings.Contains(srv.out.String(), "box1-renewed") {
		t.Error("the server never saw the renewed certificate")
	}

	// Uplink down stops openvpn; the tunnel device goes away.
	m.SetUplink(false, "")
	waitStatus(t, m, 10*time.Second, "WAITING_FOR_UPLINK", func(st Status) bool { return st.State == StateWaitingForUplink && st.PID == 0 })
	if out, _ := exec.Command("ip", "-n", tn.cli, "link", "show", "tun0").CombinedOutput(); !strings.Contains(string(out), "does not exist") {
		t.Errorf("tun0 still exists after uplink down: %s", out)
	}

	// Switched off in the config, it stays off even with an uplink.
	m.SetEnabled(false)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 5*time.Second, "DISABLED", func(st Status) bool { return st.State == StateDisabled && st.PID == 0 })
	time.Sleep(300 * time.Millisecond)
	if st := m.Status(); st.State != StateDisabled || st.PID != 0 {
		t.Errorf("disabled tunnel started: %+v", st)
	}
}

// BenchmarkUplinkSwitch measures how long the tunnel is down when the
// active uplink changes: SetUplink to CONNECTED again.
func BenchmarkUplinkSwitch(b *testing.B) {
	tn := newTestNet(b)
	pki := newTestPKI(b)
	tc := staticKey(b)
	startServer(b, tn, pki, tc)
	m, states := newTestManagerLog(b, tn, Options{})
	cert, key := pki.valid(b, "bench", false)
	if err := m.Import(strings.NewReader(clientProfile(tn, pki, cert, key, tc)), "bench.ovpn"); err != nil {
		b.Fatal(err)
	}
	runManager(b, m)
	m.SetUplink(true, "up0")
	waitStatus(b, m, 20*time.Second, "CONNECTED", connected)
	b.ResetTimer()
	for i := range b.N {
		mark := states.len()
		m.SetUplink(true, fmt.Sprintf("up%d", i+1))
		waitStatus(b, m, 20*time.Second, "CONNECTED after switch", func(st Status) bool {
			return connected(st) && states.seen(mark, StateReconnecting)
		})
	}
}

// BenchmarkImport measures a profile import: allow-list, normalising and
// openvpn's dry run in an empty namespace.
func BenchmarkImport(b *testing.B) {
	tn := newTestNet(b)
	pki := newTestPKI(b)
	m := newTestManager(b, tn, Options{})
	cert, key := pki.valid(b, "bench", false)
	prof := clientProfile(tn, pki, cert, key, staticKey(b))
	b.ResetTimer()
	for range b.N {
		if err := m.Import(strings.NewReader(prof), "bench.ovpn"); err != nil {
			b.Fatal(err)
		}
	}
}
