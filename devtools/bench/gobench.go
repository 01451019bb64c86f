package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// GoBench is one Go benchmark result.
type GoBench struct {
	Package     string             `json:"package"`
	Name        string             `json:"name"`
	N           int64              `json:"n"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`
	AllocsPerOp float64            `json:"allocs_per_op"`
	Extra       map[string]float64 `json:"extra,omitempty"` // b.ReportMetric units
}

// hotPaths are the benchmarks of the table: the gateway's own relay
// benchmarks, the fast path's round trip (dtlssrtp), the PBX side's
// batched system calls (udpbatch) and this package's
// (SRTP, relay loops, SIP and AT parsing).
var hotPaths = []struct{ pkg, pattern string }{
	{"edgebox/gateway", "^BenchmarkRelay"},
	{"edgebox/internal/dtlssrtp", "^BenchmarkFastPath"},
	// the PBX side's batched receives and sends (io_uring vs a system call each)
	{"edgebox/internal/udpbatch", "^Benchmark(PollManySockets|SendManySockets)$"},
	{"edgebox/devtools/bench", "."},
}

// RunGoBenchmarks runs the hot-path benchmarks with go test.
func RunGoBenchmarks(ctx context.Context, benchtime string) ([]GoBench, error) {
	var all []GoBench
	var errs []string
	for _, hp := range hotPaths {
		cmd := exec.CommandContext(ctx, goTool(), "test", "-run", "^$", "-bench", hp.pattern, "-benchmem",
			"-benchtime", benchtime, "-count", "1", hp.pkg)
		out, err := cmd.CombinedOutput()
		res := parseGoBench(out, hp.pkg)
		all = append(all, res...)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v\n%s", hp.pkg, err, tail(out, 2000)))
		}
	}
	if len(errs) > 0 {
		return all, fmt.Errorf("go test -bench: %s", strings.Join(errs, "\n"))
	}
	return all, nil
}

// parseGoBench reads "BenchmarkX-2  N  v unit  v unit ..." lines.
func parseGoBench(out []byte, pkg string) []GoBench {
	var res []GoBench
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		g := GoBench{Package: pkg, Name: name, N: n}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			switch f[i+1] {
			case "ns/op":
				g.NsPerOp = v
			case "B/op":
				g.BytesPerOp = v
			case "allocs/op":
				g.AllocsPerOp = v
			case "MB/s":
			default:
				if g.Extra == nil {
					g.Extra = map[string]float64{}
				}
				g.Extra[f[i+1]] = v
			}
		}
		if ok {
			res = append(res, g)
		}
	}
	return res
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
