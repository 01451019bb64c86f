package calldial

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	line := "1234 (gate way) (x)) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 75 0 0 20 0 12 0 100 800000000 6000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
	d, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if d != 3250*time.Millisecond {
		t.Errorf("cpu %v, want 3.25s (250+75 ticks)", d)
	}
	for _, bad := range []string{"", "1234 no name", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u s 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	n, err := parseStatusRSS([]byte("Name:\tgateway\nVmPeak:\t  99 kB\nVmRSS:\t   2048 kB\nThreads: 9\n"))
	if err != nil || n != 2048*1024 {
		t.Errorf("%d, %v", n, err)
	}
	for _, bad := range []string{"Name: x\n", "VmRSS: 12 MB\n", "VmRSS: x kB\n", "VmRSS: -5 kB\n"} {
		if _, err := parseStatusRSS([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

const procNetUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:87E4 00000000:0000 07 00000000:00000340 00:00000000 00000000     0        0 123 2 0000000000000000 293
  101: 0100007F:AD84 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 124 2 0000000000000000 615
  102: 00000000:87E4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 125 2 0000000000000000 7
`

func TestParseUDPDrops(t *testing.T) {
	for port, want := range map[int]uint64{0x87E4: 293, 0xAD84: 615, 1: 0} {
		n, err := parseUDPDrops([]byte(procNetUDP), port)
		if err != nil || n != want {
			t.Errorf("port %d: %d, %v; want %d", port, n, err, want)
		}
	}
	if _, err := parseUDPDrops([]byte("h\n  1: 0100007F:0001 0:0 07 0:0 0:0 0 0 0 1 2 0 x\n"), 1); err == nil {
		t.Error("non-numeric drops accepted")
	}
}

func TestPercentiles(t *testing.T) {
	var v []float64
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i))
	}
	p := percentiles(v)
	if p.N != 100 || p.P50 != 50 || p.P95 != 95 || p.P99 != 99 || p.Max != 100 {
		t.Errorf("%+v", p)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Error("empty input gave figures")
	}
	if p := percentiles([]float64{7}); p.P50 != 7 || p.P99 != 7 {
		t.Errorf("%+v", p)
	}
}

func TestSteadyWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	s := []sample{
		{at: at(0)},
		{at: at(1), attempted: 5, held: 3, pacing: 3},
		{at: at(2), attempted: 10, held: 10, pacing: 10},
		{at: at(3), attempted: 10, held: 10, pacing: 10},
		{at: at(4), attempted: 10, held: 10, pacing: 10},
		{at: at(5), attempted: 10, finished: 2, held: 8, pacing: 8},
	}
	a, b, ok := steadyWindow(s)
	if !ok || !a.at.Equal(at(2)) || !b.at.Equal(at(4)) {
		t.Errorf("window %v..%v %v, want 2s..4s", a.at, b.at, ok)
	}
	if _, _, ok := steadyWindow(s[:2]); ok {
		t.Error("window found while calls were starting")
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 1 0 1 1 1"))
	f.Add([]byte("1 ()) S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseStatCPU(b); err == nil && d < 0 {
			t.Fatalf("negative %v", d)
		}
	})
}

func FuzzParseStatusRSS(f *testing.F) {
	f.Add([]byte("VmRSS:\t 12 kB\n"))
	f.Add([]byte("VmRSS:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := parseStatusRSS(b); err == nil && n < 0 {
			t.Fatalf("negative %d", n)
		}
	})
}

func FuzzParseUDPDrops(f *testing.F) {
	f.Add([]byte(procNetUDP), 0x87E4)
	f.Fuzz(func(t *testing.T, b []byte, port int) {
		parseUDPDrops(b, port)
	})
}

func TestParseSchedstat(t *testing.T) {
	run, n, err := parseSchedstat([]byte("1234567890 55 4321\n"))
	if err != nil || run != 1234567890*time.Nanosecond || n != 4321 {
		t.Errorf("got %v %d %v", run, n, err)
	}
	for _, bad := range []string{"", "1 2", "a 2 3", "1 2 x", "1 2 3 4"} {
		if _, _, err := parseSchedstat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// this process's own threads: some ran, at least one slice each
	run, n, err = ProcThreads(os.Getpid())
	if err != nil || run <= 0 || n == 0 {
		t.Errorf("own threads: %v %d %v", run, n, err)
	}
}
