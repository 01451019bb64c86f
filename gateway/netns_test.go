package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// Namespace helpers for the tests where an interface matters: the box in
// its own namespace with LAN, VPN and uplink veths, peers in theirs.

// netnsRig names a test's namespaces after the test process and a
// sequence number (testenv.UniqueName), so parallel runs, and parallel
// tests of one run that share a tag, never meet.
type netnsRig struct {
	t    *testing.T
	tag  string
	nets map[string]*testenv.Netns
}

func newNetnsRig(t *testing.T, tag string) *netnsRig {
	t.Helper()
	testenv.RequireRoot(t, "ip")
	return &netnsRig{t: t, tag: testenv.UniqueName(tag), nets: map[string]*testenv.Netns{}}
}

// ns makes namespace name (loopback up) and returns its full name.
func (r *netnsRig) ns(name string) string {
	r.t.Helper()
	n := testenv.NewNetns(r.t, "eb"+name+"-"+r.tag)
	r.nets[n.Name] = n
	return n.Name
}

// netns is the namespace ns made under full name.
func (r *netnsRig) netns(full string) *testenv.Netns { return r.nets[full] }

// link wires namespace a (interface ifA, address addrA) to b (ifB, addrB).
func (r *netnsRig) link(a, ifA, addrA, b, ifB, addrB string) {
	r.t.Helper()
	r.nets[a].Veth(ifA, addrA, r.nets[b], ifB, addrB)
}

func (r *netnsRig) ip(args ...string) {
	r.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		r.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// startGatewayIn runs a gateway with cfg as a separate process inside
// namespace ns (every socket it ever makes, TURN relays included, and the
// interfaces it reads are then that namespace's). It stops with the test.
// Its local API is returned (a unix socket, reached from any namespace).
func startGatewayIn(t *testing.T, ns string, cfg config.Gateway) gateway.Client {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api := filepath.Join(t.TempDir(), "gateway.sock")
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run", "^TestHelperGatewayInNetns$", "-test.v")
	cmd.Env = append(os.Environ(), "EDGEBOX_GATEWAY_CONFIG="+string(b), "EDGEBOX_GATEWAY_API="+api)
	cmd.Env = append(cmd.Env, runDirEnv(t)...) // its netctl, when the test started one
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		stdin.Close() // the helper ends its gateway and exits
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("gateway in %s exited:\n%s", ns, strings.Join(seen, "\n"))
			}
			if l == "GATEWAY READY" {
				go func() {
					for range lines {
					}
				}()
				return gateway.NewClientPath(api)
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("gateway in %s not ready within 30 s:\n%s", ns, strings.Join(seen, "\n"))
		}
	}
}

// TestHelperGatewayInNetns is the process startGatewayIn starts.
func TestHelperGatewayInNetns(t *testing.T) {
	raw := os.Getenv("EDGEBOX_GATEWAY_CONFIG")
	if raw == "" {
		t.Skip("helper process of startGatewayIn")
	}
	var cfg config.Gateway
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	svc := startGateway(t, cfg)
	ln, err := net.Listen("unix", os.Getenv("EDGEBOX_GATEWAY_API"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: svc.APIHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	fmt.Println("GATEWAY READY")
	io.Copy(io.Discard, os.Stdin)
}
