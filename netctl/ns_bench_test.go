package netctl_test

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"edgebox/internal/testenv"
)

// BenchmarkFailover measures carrier loss on the wired WAN to a working
// default route over LTE (route switched and a TCP connection to the
// internet server through it succeeds), once per iteration; the WAN is
// restored between iterations. Reported: mean, median and worst in ms.
func BenchmarkFailover(b *testing.B) {
	cfg := baseConfig()
	n := cfg["network"].(map[string]any)
	n["health"] = map[string]any{"interval_sec": 1, "timeout_sec": 1, "fail_after_sec": 3, "failback_after_sec": 0}
	r := startFailoverRig(b, "bn", cfg)
	serve(b, r.inetNS, internetIP+":8080")
	inet, err := netlink.NewHandleAt(r.inetNS)
	if err != nil {
		b.Fatal(err)
	}
	defer inet.Close()
	wanp, err := inet.LinkByName("wanp")
	if err != nil {
		b.Fatal(err)
	}
	target := net.ParseIP(internetIP)
	via := func() string {
		rs, err := r.boxH.RouteGet(target)
		if err != nil || len(rs) == 0 {
			return ""
		}
		l, err := r.boxH.LinkByIndex(rs[0].LinkIndex)
		if err != nil {
			return ""
		}
		return l.Attrs().Name
	}
	waitVia := func(dev string, limit time.Duration) error {
		return testenv.UntilEvery(limit, 200*time.Microsecond, "the route moved to "+dev, func() (bool, error) {
			now := via()
			return now == dev, fmt.Errorf("now %s", now)
		})
	}
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := inet.LinkSetDown(wanp); err != nil {
			b.Fatal(err)
		}
		if err := waitVia("lte0", 10*time.Second); err != nil {
			b.Fatal(err)
		}
		var seen string
		for try := 0; try < 100; try++ {
			if seen, err = dialFrom(r.boxNS, internetIP+":8080", time.Second); err == nil {
				break
			}
		}
		if err != nil {
			b.Fatalf("no connection over LTE after failover: %v", err)
		}
		times = append(times, time.Since(start))
		_ = seen
		b.StopTimer()
		if err := inet.LinkSetUp(wanp); err != nil {
			b.Fatal(err)
		}
		if err := waitVia("wan0", 20*time.Second); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(times)
	var sum time.Duration
	for _, d := range times {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(sum/time.Duration(len(times))), "ms/failover")
	b.ReportMetric(ms(times[len(times)/2]), "p50-ms")
	b.ReportMetric(ms(times[len(times)-1]), "max-ms")
	b.Logf("failover over %d runs: mean %v, median %v, worst %v", len(times), sum/time.Duration(len(times)), times[len(times)/2], times[len(times)-1])
}
