package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgebox/devtools/calldial"
	"edgebox/internal/config"
)

const goBenchOut = `goos: linux
BenchmarkRelayToPBX-2            	  365812	      3152 ns/op	  54.57 MB/s	       0 B/op	       0 allocs/op
BenchmarkRelayLoop/naive-w32-2   	  125703	     10406 ns/op	      9740 cpu-ns/pkt	      4254 relay-cpu-ns/pkt	         2.000 syscalls/pkt	       0 B/op	       0 allocs/op
BenchmarkRelayLoop/batch-w32-2   	   75432	     14086 ns/op	      8577 cpu-ns/pkt	      3658 relay-cpu-ns/pkt	         0.1633 syscalls/pkt	      52 B/op	       2 allocs/op
BenchmarkBroken-2 x 1 ns/op
PASS
ok  	edgebox/bench	1.703s
`

func TestParseGoBench(t *testing.T) {
	res := parseGoBench([]byte(goBenchOut), "edgebox/devtools/bench")
	if len(res) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(res), res)
	}
	r := res[0]
	if r.Name != "RelayToPBX" || r.N != 365812 || r.NsPerOp != 3152 || r.AllocsPerOp != 0 || r.Extra != nil {
		t.Errorf("%+v", r)
	}
	b := res[2]
	if b.Name != "RelayLoop/batch-w32" || b.BytesPerOp != 52 || b.AllocsPerOp != 2 || b.Extra["syscalls/pkt"] != 0.1633 {
		t.Errorf("%+v", b)
	}
	if got := baselineRatio(b, res); got != "0.88x naive cpu" {
		t.Errorf("ratio %q", got)
	}
}

func FuzzParseGoBench(f *testing.F) {
	f.Add([]byte(goBenchOut))
	f.Add([]byte("BenchmarkX-2 -5 1 ns/op"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range parseGoBench(b, "p") {
			if r.N < 0 || r.Name == "" && !strings.Contains(string(b), "Benchmark ") && !strings.Contains(string(b), "Benchmark\t") && !strings.Contains(string(b), "Benchmark-") {
				t.Fatalf("%+v from %q", r, b)
			}
		}
	})
}

func TestTableAndTargets(t *testing.T) {
	rep := func(n int, loss float64, us, mb float64) *calldial.Report {
		return &calldial.Report{Attempted: n, Answered: n, PeakHeld: n,
			Media:   calldial.MediaSummary{LossPct: loss, SocketDrops: map[string]uint64{"gateway_ice": 0, "uas_rtp": 4}},
			Gateway: &calldial.ProcFigures{USPerPacket: us, MBPerCall: mb}}
	}
	res := Results{Started: time.Unix(0, 0), Host: "test",
		Load: []Result{
			{Point: Point{Name: "g711 x50", Codec: "pcmu", Concurrency: 50, Total: 50}, Report: rep(50, 0, 20, 0.5)},
			{Point: Point{Name: "g711 x500", Codec: "pcmu", Concurrency: 500, Total: 500}, Report: rep(500, 0.5, 10, 0.4)},
			{Point: Point{Name: "g711 x1000", Codec: "pcmu", Concurrency: 1000, Total: 1000}, Report: rep(1000, 30, 90, 0.3)},
			{Point: Point{Name: "setup 50/s", Codec: "pcmu", Rate: 50, Total: 150, Ramp: true}, Report: &calldial.Report{Attempted: 150, Answered: 150, AttemptRate: 50}},
			{Point: Point{Name: "setup 800/s", Codec: "pcmu", Rate: 800, Total: 2400, Ramp: true}, Error: "not run"},
		},
		Go: []GoBench{{Package: "edgebox/gateway", Name: "RelayToPBX", NsPerOp: 3000}},
	}
	res.Load[1].Report.Answered, res.Load[1].Report.Failures = 499, map[string]int{"sip 503": 1}
	janus := rep(500, 0.2, 25, 1.2)
	janus.Answered = 498
	res.Load[1].Janus = &Result{Point: res.Load[1].Point, Report: janus}
	res.Load[3].Report.Gateway = &calldial.ProcFigures{CPUSec: 0.3}
	res.Load[3].Janus = &Result{Point: res.Load[3].Point, Report: &calldial.Report{Attempted: 150, Answered: 150, Gateway: &calldial.ProcFigures{CPUSec: 1.2}}}
	res.Load[4].Janus = &Result{Point: res.Load[4].Point, Error: "not run: Janus answered under half"}
	res.Targets = targets(res)
	var out strings.Builder
	PrintTable(&out, res)
	s := out.String()
	if ramp := regexp.MustCompile(`(?m)^ *setup 50/s +50 +50 .*$`).FindString(s); !strings.Contains(ramp, " 2.00 ") {
		t.Errorf("the ramp row lacks its 2.00 ms of gateway CPU per call: %q", ramp)
	}
	for _, want := range []string{"g711 x500", "0.50x", "50 calls clean", "at 1000: 1000 held", "10.0 µs at 500 calls", "50/s asked", "RelayToPBX: 0 allocs/op", "not run", "499/500", "1 x sip 503",
		// the ramp's own CPU per call: 0.3 s for 150 calls
		"gw ms cpu/call",
		// Janus beside the gateway: µs/pkt 25 vs 10, MB/call 1.2 vs 0.4, set-up 8 ms vs 2 ms
		"janus beside the gateway", "499/498", "2.50x", "3.00x", "2.00", "8.00", "4.00x", "Janus answered under half"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	for _, tr := range res.Targets {
		if tr.Met && !strings.Contains(tr.Target, "allocs") {
			t.Errorf("target %q met with these figures", tr.Target)
		}
	}
}

// TestGatewayConfigCarriesThePoint: the bench's gateway takes every call
// of the largest load point (the box's default limit is far below it:
// the gateway would refuse the rest as busy).
func TestGatewayConfigCarriesThePoint(t *testing.T) {
	for _, p := range Matrix(false) {
		c, err := GatewayConfig("127.0.0.1:5060", p.Concurrency)
		if err != nil {
			t.Fatal(err)
		}
		if c.CallLimit() < p.Concurrency {
			t.Errorf("%s: gateway call limit %d, the point holds up to %d calls", p.Name, c.CallLimit(), p.Concurrency)
		}
		full := config.Default()
		full.Gateway = c
		if err := full.Validate(); err != nil {
			t.Errorf("%s: the bench's gateway config is refused: %v", p.Name, err)
		}
	}
}

// TestQuickMatrix runs make bench's own code path end to end on the small
// matrix: the gateway built and started, SIPp as the PBX, calldial's calls,
// the Go benchmarks, then the table. Figures are not judged here (make
// test shares the CPUs with other packages); that every point ran and was
// measured is.
func TestQuickMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway and SIPp")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var js, progress bytes.Buffer
	if err := Main(ctx, []string{"-quick", "-json", "-benchtime", "1000x"}, &js, &progress); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var res Results
	if err := json.Unmarshal(js.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Load) != len(Matrix(true)) {
		t.Fatalf("%d load points, want %d", len(res.Load), len(Matrix(true)))
	}
	for _, r := range res.Load {
		rep := r.Report
		if r.Error != "" || rep == nil {
			t.Errorf("%s: %s", r.Point.Name, r.Error)
			continue
		}
		if rep.Answered != r.Point.Total {
			t.Errorf("%s: answered %d of %d", r.Point.Name, rep.Answered, r.Point.Total)
		}
		if r.Point.Ramp {
			continue
		}
		if rep.Media.Received == 0 || rep.Gateway == nil || rep.Gateway.USPerPacket <= 0 || rep.Gateway.MBPerCall <= 0 {
			t.Errorf("%s: not measured: media %+v, gateway %+v", r.Point.Name, rep.Media, rep.Gateway)
		}
	}
	// Janus beside the gateway: its point ran through Janus for real
	janusRan := 0
	for _, r := range res.Load {
		if !r.Point.Janus {
			continue
		}
		janusRan++
		if os.Geteuid() != 0 {
			t.Logf("%s: Janus not checked (needs root for its namespaces): %+v", r.Point.Name, r.Janus)
			continue
		}
		checkJanusResult(t, r.Janus)
	}
	if janusRan == 0 {
		t.Error("no point of the quick matrix ran through Janus")
	}
	if res.GoError != "" || len(res.Go) == 0 {
		t.Errorf("Go benchmarks: %d, %s", len(res.Go), res.GoError)
	}
	for _, g := range res.Go {
		if g.NsPerOp <= 0 {
			t.Errorf("Go benchmark %s/%s without a figure", g.Package, g.Name)
		}
	}
	if len(res.Targets) == 0 {
		t.Error("no target rows")
	}
	var table strings.Builder
	PrintTable(&table, res)
	t.Logf("\n%s", table.String())
}
