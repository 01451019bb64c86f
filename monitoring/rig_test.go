package monitoring

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
	"edgebox/netctl/openvpn"
)

// rigBox is one box of the rig: the real web and gateway services as
// processes with a run directory of their own, init and netctl played by
// the test, HTTPS on a 127.0.0.x address of its own.
type rigBox struct {
	name  string
	addr  string // host:port of HTTPS
	state boxState
	run   string
}

// startProc starts a process that the test stops (SIGTERM, then SIGKILL).
// Its output goes to a file shown when the test fails.
func startProc(t *testing.T, name string, env []string, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); lf.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s output (end):\n%s", name, b)
		}
	})
}

// buildServices builds cmd/web and cmd/gateway into dir.
func buildServices(t *testing.T, dir string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not in PATH: %v", err)
	}
	out, err := exec.Command(goBin, "build", "-o", dir+"/", "edgebox/cmd/web", "edgebox/cmd/gateway").CombinedOutput()
	if err != nil {
		t.Fatalf("go build web gateway: %v\n%s", err, out)
	}
}

// writeGatewayConfig switches the box's gateway on, on addr, registering
// at a PBX address where nothing answers.
func writeGatewayConfig(t *testing.T, perm, addr string) {
	t.Helper()
	rtp := testenv.FreePort(t)
	cfg := fmt.Sprintf(`{"version": 1, "gateway": {"enabled": true,
 "pbx": {"address": "127.0.0.1:%d", "transport": "udp"},
 "sip": {"listen": [{"transport": "udp", "address": "%s:%d"}]},
 "trunk": {"username": "rig", "password": "rig-secret", "register": true, "register_expires_sec": 60},
 "portal": {"listen": "%s:%d", "token_ttl_sec": 60, "rate_per_minute": 60},
 "media": {"ice_port": %d, "ice_address": "%s", "rtp_address": "%s", "rtp_port_min": %d, "rtp_port_max": %d, "codecs": ["opus", "pcmu"]}}}`,
		testenv.FreePort(t), addr, testenv.FreePort(t), addr, testenv.FreePort(t), testenv.FreePort(t), addr, addr, rtp, rtp+9)
	dir := filepath.Join(perm, "edgebox")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newToken asks the box's web service for a read-scope API token over its
// unix socket, where the caller acts as the admin (root on the box).
func newToken(t *testing.T, runDir string, days int) string {
	t.Helper()
	sock := filepath.Join(runDir, "web.sock")
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	// A new box has no admin password; tokens come after the first setup.
	testenv.WaitFor(t, 30*time.Second, "admin password set at "+sock, testenv.Why(func() (bool, string) {
		resp, err := c.Post("http://localhost/api/v1/setup", "application/json", strings.NewReader(`{"password":"rig-admin-password-1"}`))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode/100 == 2, fmt.Sprintf("%s %s", resp.Status, b)
	}))
	var tok string
	testenv.WaitFor(t, 30*time.Second, "API token from "+sock, testenv.Why(func() (bool, string) {
		resp, err := c.Post("http://localhost/api/v1/tokens", "application/json", strings.NewReader(fmt.Sprintf(`{"name":"prometheus","scope":"read","expires_days":%d}`, days)))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r struct {
			Token string `json:"token"`
		}
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &r) != nil || r.Token == "" {
			return false, fmt.Sprintf("%s %s", resp.Status, b)
		}
		tok = r.Token
		return true, ""
	}))
	return tok
}

// fetchCert returns the box's certificate as PEM, as an admin fetches it
// once (and compares its fingerprint with the box's console).
func fetchCert(t *testing.T, addr string) []byte {
	t.Helper()
	var der []byte
	testenv.WaitFor(t, 60*time.Second, "HTTPS at "+addr, testenv.Why(func() (bool, string) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return false, err.Error()
		}
		defer c.Close()
		der = c.ConnectionState().PeerCertificates[0].Raw
		return true, ""
	}))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// promGet decodes the data of a Prometheus HTTP API answer.
func promGet(base, path string, data any) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status != "success" {
		return fmt.Errorf("%s: %s %s", path, resp.Status, b)
	}
	return json.Unmarshal(env.Data, data)
}

// TestFleetPrometheusRig runs Debian's Prometheus against three boxes made
// of the real web and gateway services. It is configured the way
// docs/fleet.md says: the shipped prometheus.yml and alerts.yml, one
// box-job.yml per box with the box's certificate and read-scope token,
// addresses from file-based service discovery. It checks that every box
// is scraped, that a box added to its targets file is picked up without a
// restart, that the shipped rules raise exactly the alerts of each box's
// faults, and that every metric the Grafana dashboard and the rules query
// is one the boxes export.
func TestFleetPrometheusRig(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not installed (Debian package prometheus; run make deps): %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	buildServices(t, bin)

	booted := time.Now().Add(-time.Hour)
	running := func(restarts int, names ...string) []sysapi.Service {
		var l []sysapi.Service
		for _, n := range names {
			l = append(l, sysapi.Service{Name: n, State: sysapi.StateRunning, PID: 100, Restarts: restarts})
		}
		return l
	}
	boxes := []*rigBox{
		{name: "box1", state: boxState{ // healthy
			system:    sysapi.System{Board: "apu4", Hostname: "box1", Version: "1.4.0", Slot: "A", Confirmed: true, BootedAt: booted, Perm: "mounted", Services: running(0, "netctl", "gateway", "web")},
			activeWAN: true, simState: "ready", signalDBM: -71, vpnState: openvpn.StateConnected,
		}},
		{name: "box2", state: boxState{ // failed over, no SIM, weak signal, VPN down, update rolled back
			system:    sysapi.System{Board: "apu2", Hostname: "box2", Version: "1.3.9", Slot: "B", Confirmed: true, RollbackReason: "web did not come up in the trial boot", BootedAt: booted, Perm: "mounted", Services: running(0, "netctl", "gateway", "web")},
			activeWAN: false, simState: "absent", signalDBM: -109, vpnState: openvpn.StateRestarting,
		}},
		{name: "box3", state: boxState{ // /perm damaged, gateway crash-looping
			system: sysapi.System{Board: "apu4", Hostname: "box3", Version: "1.4.0", Slot: "A", Confirmed: true, BootedAt: booted, Perm: "damaged",
				Services: append(running(0, "netctl", "web"), sysapi.Service{Name: "gateway", State: sysapi.StateFailed, Restarts: 7, LastExit: "exit status 1"})},
			activeWAN: true, simState: "ready", signalDBM: -80, vpnState: openvpn.StateConnected,
		}},
	}
	want := map[string]bool{
		"box2 EdgeboxUplinkFailedOver": true, "box2 EdgeboxSIMNotReady": true, "box2 EdgeboxModemSignalPoor": true,
		"box2 EdgeboxVPNDown": true, "box2 EdgeboxUpdateRolledBack": true, "box2 EdgeboxTrunkUnregistered": true,
		"box3 EdgeboxPermNotMounted": true, "box3 EdgeboxServiceCrashLoop": true, "box3 EdgeboxScrapeTokenExpiring": true,
	}

	prom := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(filepath.Join(prom, "boxes"), 0o755); err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	job, err := os.ReadFile("box-job.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	// The rig scrapes and evaluates every second instead of every 30 s.
	cfg := strings.NewReplacer("scrape_interval: 30s", "scrape_interval: 1s", "scrape_timeout: 10s", "scrape_timeout: 1s",
		"evaluation_interval: 30s", "evaluation_interval: 1s").Replace(string(head))
	if cfg == string(head) {
		t.Fatal("prometheus.yml: the intervals the rig shortens are not there")
	}
	write := func(name string, b []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(prom, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	targets := func(b *rigBox) []byte {
		return []byte(fmt.Sprintf(`[{"targets": [%q], "labels": {"box": %q, "site": "rig"}}]`, b.addr, b.name))
	}
	for i, b := range boxes {
		b.run = filepath.Join(dir, b.name, "run")
		perm := filepath.Join(dir, b.name, "perm")
		// Ports free now: other tests on this machine may hold 8443 and 8080.
		b.addr = fmt.Sprintf("127.0.0.%d:%d", 11+i, testenv.FreePort(t))
		serveFakes(t, b.run, b.state)
		env := []string{"EDGEBOX_RUN_DIR=" + b.run, "EDGEBOX_PERM_DIR=" + perm}
		if b.name == "box2" {
			// box2's gateway is on, with a PBX that does not answer: its
			// trunk stays unregistered. The others' gateways are off.
			writeGatewayConfig(t, perm, fmt.Sprintf("127.0.0.%d", 11+i))
		}
		startProc(t, b.name+"-gateway", env, filepath.Join(bin, "gateway"))
		startProc(t, b.name+"-web", env, filepath.Join(bin, "web"),
			"-http", fmt.Sprintf("127.0.0.%d:%d", 11+i, testenv.FreePort(t)), "-https", b.addr, "-board-lan=false")
		write("boxes/"+b.name+".pem", fetchCert(t, b.addr), 0o644)
		// box3's token ends in 10 days: the expiry alert must see it.
		days := 366
		if b.name == "box3" {
			days = 10
		}
		tok := newToken(t, b.run, days)
		write("boxes/"+b.name+".token", []byte(tok+"\n"), 0o600)
		cfg += strings.ReplaceAll(string(job), "BOX", b.name)
		if b.name == "box3" {
			// Known to the config, not yet discovered: added below.
			write("boxes/box3.json", []byte("[]"), 0o644)
		} else {
			write("boxes/"+b.name+".json", targets(b), 0o644)
		}
	}
	write("prometheus.yml", []byte(cfg), 0o644)
	write("alerts.yml", rules, 0o644)
	if out, err := exec.Command(promtool(t), "check", "config", filepath.Join(prom, "prometheus.yml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}

	// Without the token, /metrics is refused: Prometheus's scrape below
	// succeeds only because it sends it.
	noTok := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := noTok.Get("https://" + boxes[0].addr + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/metrics without a token: %s, want 401", resp.Status)
		}
	}

	port := testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	startProc(t, "prometheus", nil, promBin,
		"--config.file="+filepath.Join(prom, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(prom, "data"),
		"--web.listen-address="+fmt.Sprintf("127.0.0.1:%d", port),
		"--storage.tsdb.retention.time=1h")

	type target struct {
		Labels    map[string]string `json:"labels"`
		Health    string            `json:"health"`
		LastError string            `json:"lastError"`
	}
	scraped := func(names ...string) func() (bool, string) {
		return func() (bool, string) {
			var d struct {
				Active []target `json:"activeTargets"`
			}
			if err := promGet(base, "/api/v1/targets", &d); err != nil {
				return false, err.Error()
			}
			up := map[string]bool{}
			var seen []string
			for _, tg := range d.Active {
				up[tg.Labels["box"]] = tg.Health == "up"
				seen = append(seen, fmt.Sprintf("%s=%s %s", tg.Labels["box"], tg.Health, tg.LastError))
			}
			for _, n := range names {
				if !up[n] {
					return false, strings.Join(seen, "; ")
				}
			}
			return len(d.Active) == len(names), strings.Join(seen, "; ")
		}
	}
	testenv.WaitFor(t, 90*time.Second, "Prometheus scrapes box1 and box2 with their tokens", testenv.Why(scraped("box1", "box2")))
	// A new box is one line in its targets file: no restart, no reload.
	write("boxes/box3.json", targets(boxes[2]), 0o644)
	testenv.WaitFor(t, 90*time.Second, "Prometheus discovers box3 from its targets file", testenv.Why(scraped("box1", "box2", "box3")))

	// The shipped rules see each box's faults, and only those.
	testenv.WaitFor(t, 90*time.Second, "alerts of the rig's faults", testenv.Why(func() (bool, string) {
		var d struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		if err := promGet(base, "/api/v1/alerts", &d); err != nil {
			return false, err.Error()
		}
		got := map[string]bool{}
		var l []string
		for _, a := range d.Alerts {
			k := a.Labels["box"] + " " + a.Labels["alertname"]
			got[k] = true
			l = append(l, k+" ("+a.State+")")
		}
		sort.Strings(l)
		if len(got) != len(want) {
			return false, strings.Join(l, ", ")
		}
		for k := range want {
			if !got[k] {
				return false, strings.Join(l, ", ")
			}
		}
		t.Logf("alerts: %s", strings.Join(l, ", "))
		return true, ""
	}))

	// Every metric the dashboard and the rules query is one the boxes
	// export: the names Prometheus scraped from them.
	var names []string
	if err := promGet(base, "/api/v1/label/__name__/values", &names); err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, n := range names {
		exported[n] = true
	}
	t.Logf("%d metric names scraped from the rig", len(names))
	var perBox struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := promGet(base, "/api/v1/query?query="+url.QueryEscape(`count by (box) ({job=~"edgebox.*"})`), &perBox); err != nil {
		t.Fatal(err)
	}
	for _, r := range perBox.Result {
		t.Logf("series per scrape of %s: %v", r.Metric["box"], r.Value[1])
	}
	dash, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	dashExprs, err := dashboardExprs(dash)
	if err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var groups struct {
		Groups []struct {
			Rules []struct {
				Query string `json:"query"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := promGet(base, "/api/v1/rules", &groups); err != nil {
		t.Fatal(err)
	}
	var ruleExprs []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			ruleExprs = append(ruleExprs, r.Query)
		}
	}
	for what, exprs := range map[string][]string{"dashboard.json": dashExprs, "alerts.yml": ruleExprs} {
		if len(exprs) == 0 {
			t.Errorf("%s: no PromQL expressions found", what)
		}
		for _, e := range exprs {
			for _, m := range metricNames(e) {
				if !exported[m] {
					t.Errorf("%s queries %s, which no box exports (expression %q)", what, m, e)
				}
			}
		}
	}
}
