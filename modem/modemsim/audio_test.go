package modemsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"path/filepath"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

func TestToneLevel(t *testing.T) {
	frame := make([]byte, AudioFrameBytes)
	samples := func(b []byte) []int16 {
		x := make([]int16, len(b)/2)
		for i := range x {
			x[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return x
	}
	fillTone(frame, 1000, 0)
	share, level, rms := ToneLevel(samples(frame), 1000)
	// Half full scale: -6 dBFS.
	if share < 0.95 || math.Abs(level+6.02) > 0.5 || math.Abs(rms+6.02) > 0.5 {
		t.Errorf("1000 Hz at 1000: share %.2f level %.1f rms %.1f", share, level, rms)
	}
	if share, _, _ := ToneLevel(samples(frame), 440); share > 0.1 {
		t.Errorf("1000 Hz seen at 440 Hz: share %.2f", share)
	}
	fillTone(frame, 440, 0)
	if share, _, _ := ToneLevel(samples(frame), 1000); share > 0.1 {
		t.Errorf("440 Hz seen at 1000 Hz: share %.2f", share)
	}
	if _, _, rms := ToneLevel(make([]int16, 160), 1000); rms > -100 {
		t.Errorf("silence rms %.1f", rms)
	}
}

// audioPeer connects to the simulator's voice port.
func audioPeer(t *testing.T, sim *Sim) net.Conn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "audio.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ServeAudio(ctx, ln) }()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	})
	return c
}

func readFrames(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, n*AudioFrameBytes)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %d frames: %v", n, err)
	}
	return buf
}

// The far party's tone comes out of the port only during a call, and
// what the box sends back is analysed: the tone echoed, another tone,
// silence.
func TestAudioPortToneAndAnalysis(t *testing.T) {
	r := newVoiceRig(t, "quectel-ec25")
	c := audioPeer(t, r.sim)
	// No call: the port is silent.
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if n, _ := c.Read(make([]byte, 64)); n != 0 {
		t.Fatalf("%d bytes without a call", n)
	}
	r.at("AT+QPCMV=1,0")
	r.control("call +4915550100")
	r.at("ATA")
	start := time.Now()
	in := readFrames(t, c, 25)
	elapsed := time.Since(start)
	x := make([]int16, len(in)/2)
	for i := range x {
		x[i] = int16(binary.LittleEndian.Uint16(in[2*i:]))
	}
	if share, level, _ := ToneLevel(x[:1600], 1000); share < 0.9 || level < -7 {
		t.Fatalf("far party's tone: share %.2f level %.1f dBFS", share, level)
	}
	t.Logf("25 frames (500 ms of audio) in %v", elapsed)

	// Echo: the tone comes back.
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	waitStats(t, r.sim, func(s AudioStats) bool { return s.FramesReceived >= 25 })
	st := r.sim.AudioStats()
	if st.ToneFrames != 25 || st.SilentFrames != 0 || st.MaxLevelDB < -7 || !st.InCall || !st.Attached {
		t.Fatalf("echo: %+v", st)
	}
	// Another tone: not counted as the detect frequency.
	other := make([]byte, 10*AudioFrameBytes)
	ph := 0.0
	for i := 0; i < 10; i++ {
		ph = fillTone(other[i*AudioFrameBytes:(i+1)*AudioFrameBytes], 440, ph)
	}
	c.Write(other)
	waitStats(t, r.sim, func(s AudioStats) bool { return s.FramesReceived >= 35 })
	if st := r.sim.AudioStats(); st.ToneFrames != 25 || st.SilentFrames != 0 || st.LevelDB > -30 {
		t.Fatalf("440 Hz back: %+v", st)
	}
	// Silence.
	c.Write(make([]byte, 5*AudioFrameBytes))
	waitStats(t, r.sim, func(s AudioStats) bool { return s.FramesReceived >= 40 })
	if st := r.sim.AudioStats(); st.SilentFrames != 5 {
		t.Fatalf("silence: %+v", st)
	}
	// Control "audio detect 440": the analysis follows.
	r.control("audio detect 440")
	c.Write(other)
	waitStats(t, r.sim, func(s AudioStats) bool { return s.FramesReceived >= 50 })
	if st := r.sim.AudioStats(); st.ToneFrames != 35 || st.DetectHz != 440 {
		t.Fatalf("detect 440: %+v", st)
	}
	// Far end hangs up: the clock stops.
	r.control("hangup")
	time.Sleep(60 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		if _, err := c.Read(make([]byte, 4096)); err != nil {
			break // drained what was sent before the hangup
		}
	}
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if n, _ := c.Read(make([]byte, 64)); n != 0 {
		t.Fatalf("%d bytes after the call ended", n)
	}
	if st := r.sim.AudioStats(); st.InCall || st.FramesSent < 25 {
		t.Fatalf("after hangup: %+v", st)
	}
}

func waitStats(t *testing.T, sim *Sim, ok func(AudioStats) bool) {
	t.Helper()
	testenv.WaitFor(t, 3*time.Second, "audio stats", func() (bool, error) {
		st := sim.AudioStats()
		return ok(st), fmt.Errorf("%+v", st)
	})
}

// BenchmarkAudioClock measures the port's clock: frames per second of
// wall time (50 is exact) over one second of audio.
func BenchmarkAudioClock(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sim, err := New(Config{Profile: "generic"})
		if err != nil {
			b.Fatal(err)
		}
		sim.mu.Lock()
		c, _ := sim.newCallLocked(true, "+4915550100", false, 4)
		sim.answerCallLocked(c)
		sim.mu.Unlock()
		ln, _ := net.Listen("unix", filepath.Join(b.TempDir(), "a.sock"))
		ctx, cancel := context.WithCancel(context.Background())
		go sim.ServeAudio(ctx, ln)
		conn, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 50*AudioFrameBytes)
		io.ReadFull(conn, buf[:AudioFrameBytes])
		start := time.Now()
		io.ReadFull(conn, buf)
		b.ReportMetric(50/time.Since(start).Seconds(), "frames/s")
		conn.Close()
		cancel()
		sim.Close()
	}
}
