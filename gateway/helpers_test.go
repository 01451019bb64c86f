package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

const testAPIKey = "test-portal-key-0123456789"

// freePort is a port on 127.0.0.1 free for both UDP and TCP (network is
// kept for the callers; testenv.FreePort checks both).
func freePort(t testing.TB, network string) int {
	t.Helper()
	return testenv.FreePort(t)
}

// freeUDPTCPPort is a port free for both UDP and TCP (SIP listens on both).
func freeUDPTCPPort(t testing.TB) int {
	t.Helper()
	return testenv.FreePort(t)
}

// freeRTPRange finds a run of n free even/odd UDP port pairs.
func freeRTPRange(t testing.TB, n int) (int, int) {
	for i := 0; i < 100; i++ {
		base := freePort(t, "udp")
		if base%2 == 1 {
			base++
		}
		if base+2*n > 65000 {
			continue
		}
		ok := true
		var held []net.PacketConn
		for p := base; p < base+2*n; p++ {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return base, base + 2*n - 1
		}
	}
	t.Fatal("no free RTP port range")
	return 0, 0
}

type testLogWriter struct {
	mu sync.Mutex
	t  testing.TB
}

func (w *testLogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if os.Getenv("GATEWAY_TEST_LOG") != "" {
		w.t.Logf("%s", bytes.TrimRight(b, "\n"))
	}
	return len(b), nil
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("GATEWAY_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(&testLogWriter{t: t}, &slog.HandlerOptions{Level: level}))
}

// testConfig is a gateway on loopback with free ports toward a PBX at pbx.
func testConfig(t testing.TB, pbx string) config.Gateway {
	c := config.DefaultGateway()
	c.Enabled = true
	c.PBX.Address = pbx
	c.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))}}
	c.Portal.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	c.Portal.PlainHTTP = true
	c.Portal.APIKeys = []config.GatewayAPIKey{{Name: "test", SHA256: gateway.HashAPIKey(testAPIKey), Destinations: []string{"*", "sip:*", "sips:*"}, FromDomains: []string{"*"}}}
	c.Portal.RatePerMinute = 6000
	c.Media.ICEPort = freePort(t, "udp")
	c.Media.ICEAddress = "127.0.0.1"
	c.Media.PublicAddress = "127.0.0.1"
	c.Media.RTPAddress = "127.0.0.1"
	c.Media.RTPPortMin, c.Media.RTPPortMax = freeRTPRange(t, 8)
	c.Media.Stack = stackOf(t) // stack_test.go
	return c
}

// withLoopbackTURN turns the built-in TURN server on, on loopback.
func withLoopbackTURN(t testing.TB, cfg *config.Gateway) {
	cfg.TURN.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	cfg.TURN.Secret = "a-long-shared-turn-secret"
	cfg.TURN.RelayAddress = "127.0.0.1"
}

func startGateway(t testing.TB, cfg config.Gateway) *gateway.Service {
	t.Helper()
	svc, err := gateway.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	t.Cleanup(svc.Close)
	checkLeanAtEnd(t, svc, cfg) // stack_test.go
	return svc
}

func portalBase(svc *gateway.Service) string { return "http://" + svc.PortalAddr() }

// sipp is a running SIPp instance.
type sipp struct {
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	ip    string
	port  int
	mport int
	logs  string
}

// startSIPp runs SIPp as a UAS with scenario (testdata/sipp/NAME.xml) on
// loopback, echoing RTP, for calls calls.
func startSIPp(t testing.TB, scenario string, calls int, extra ...string) *sipp {
	t.Helper()
	return startSIPpAt(t, "", "127.0.0.1", scenario, calls, extra...)
}

// startSIPpAt runs SIPp in namespace ns ("": the test's own) on address ip.
func startSIPpAt(t testing.TB, ns, ip, scenario string, calls int, extra ...string) *sipp {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp not installed (Debian package sip-tester, listed in scripts/deps.sh): %v", err)
	}
	dir := t.TempDir()
	s := &sipp{ip: ip, port: 5070, mport: 6000, done: make(chan struct{}), logs: dir}
	if ns == "" {
		s.port, s.mport = freeUDPTCPPort(t), freeRTPEven(t)
	}
	abs, _ := filepath.Abs(filepath.Join("testdata", "sipp", scenario+".xml"))
	if filepath.IsAbs(scenario) {
		abs = scenario // a scenario the test wrote (with paths filled in)
	}
	args := []string{"-sf", abs, "-i", ip, "-p", strconv.Itoa(s.port),
		"-mi", ip, "-mp", strconv.Itoa(s.mport), "-rtp_echo",
		"-m", strconv.Itoa(calls), "-trace_err", "-trace_msg", "-nostdin", "-timeout", "60s", "-timeout_error"}
	args = append(args, extra...)
	// a -p or -mp in extra wins (SIPp takes the last): wait on that port
	for i := 0; i+1 < len(extra); i++ {
		switch extra[i] {
		case "-p":
			s.port, _ = strconv.Atoi(extra[i+1])
		case "-mp":
			s.mport, _ = strconv.Atoi(extra[i+1])
		}
	}
	s.cmd = exec.Command(bin, args...)
	if ns != "" {
		s.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	}
	s.cmd.Dir = dir
	var out testenv.LogBuffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sipp %s traces:\n%s", scenario, s.traces())
		}
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	// wait until SIPp listens (bounded)
	tcp := strings.Contains(strings.Join(extra, " "), "-t t1")
	testenv.WaitFor(t, 10*time.Second, "sipp listening on "+s.addr(), func() (bool, error) {
		select {
		case <-s.done:
			if s.err == nil {
				// a short client run can end before ss saw it listen
				return true, nil
			}
			return false, testenv.Final(fmt.Errorf("sipp exited at start: %v\n%s\n%s", s.err, out.String(), s.traces()))
		default:
		}
		// ss, not a probe bind: a probe could take the port from SIPp
		// while it starts (SIPp then exits with errno 98)
		proto := "-Hlun"
		if tcp {
			proto = "-Hltn"
		}
		ssArgs := []string{"ss", proto, fmt.Sprintf("sport = :%d", s.port)}
		if ns != "" {
			ssArgs = append([]string{"ip", "netns", "exec", ns}, ssArgs...)
		}
		ss, _ := exec.Command(ssArgs[0], ssArgs[1:]...).Output()
		if strings.Contains(string(ss), s.addr()) {
			return true, nil
		}
		return false, nil
	})
	return s
}

func freeRTPEven(t testing.TB) int {
	lo, _ := freeRTPRange(t, 2)
	return lo
}

func (s *sipp) addr() string { return net.JoinHostPort(s.ip, strconv.Itoa(s.port)) }

// wait waits for SIPp to finish and fails the test unless every call of
// the scenario succeeded (exit status 0).
func (s *sipp) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("sipp did not finish within %v\n%s", d, s.traces())
		return
	}
	if s.err != nil {
		t.Errorf("sipp: %v (a scenario step failed)\n%s", s.err, s.traces())
	}
}

func (s *sipp) traces() string {
	var b bytes.Buffer
	files, _ := filepath.Glob(filepath.Join(s.logs, "*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 6000 {
			data = data[len(data)-6000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

func authorize(t testing.TB, svc *gateway.Service, from, dest string, ctx map[string]string) (string, string) {
	t.Helper()
	res, err := client.Authorize(context.Background(), httpClient, portalBase(svc), testAPIKey, gateway.AuthorizeRequest{From: from, Destination: dest, Context: ctx})
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	return res.Token, res.WebSocketURL
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// waitFor fails the test unless cond holds within d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, d, what, testenv.Cond(cond))
}
