package calldial

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/webrtc/v4"
)

// runner is one load run.
type runner struct {
	opt   Options
	hc    *http.Client
	codec codecSpec
	pace  *pacer
	recv  *udpbatch.Poller // reads every call's socket
	// cert is the run's one DTLS certificate, as a browser may keep one
	// for its calls: a key and certificate made per call would take CPU
	// from the gateway on the shared machine (nil: pion makes one per call)
	cert *webrtc.Certificate
	// leanCert is the same for lean calls (Options.Lean)
	leanCert *leanCert

	totals    totals
	attempted atomic.Int64
	finished  atomic.Int64
	answered  atomic.Int64
	failed    atomic.Int64
	held      atomic.Int64 // answered and not yet gone

	lastStart time.Time // when the last call was started

	// janusSessions are the calls' Janus sessions registered ahead (by
	// call number; nil: each call registers its own), janusUsed those a
	// call took.
	janusSessions []*janusSession
	janusUsed     []atomic.Bool

	mu      sync.Mutex
	results []callResult
}

func (r *runner) callAnswered() { r.held.Add(1) }

// certificates are the DTLS certificates of a call's peer connection.
func (r *runner) certificates() []webrtc.Certificate {
	if r.cert == nil {
		return nil
	}
	return []webrtc.Certificate{*r.cert}
}
func (r *runner) callGone() { r.held.Add(-1) }

// sample is the state of the run at one instant.
type sample struct {
	at                  time.Time
	gwCPU, uasCPU, self time.Duration
	gwRSS               int64
	gwSlices            uint64 // the gateway threads' timeslices (ProcThreads)
	sent, received      uint64
	attempted, finished int64
	held                int64
	pacing              int64
}

func (r *runner) take() sample {
	s := sample{at: time.Now(), self: selfCPU(),
		sent: r.totals.sent.Load(), received: r.totals.received.Load(),
		attempted: r.attempted.Load(), finished: r.finished.Load(), held: r.held.Load(),
		pacing: r.pace.active.Load()}
	if r.opt.GatewayPID > 0 {
		s.gwCPU, _ = ProcCPU(r.opt.GatewayPID)
		s.gwRSS, _ = ProcRSS(r.opt.GatewayPID)
		_, s.gwSlices, _ = ProcThreads(r.opt.GatewayPID)
	}
	if r.opt.UASPID > 0 {
		s.uasCPU, _ = ProcCPU(r.opt.UASPID)
	}
	return s
}

// Run places the calls opt describes and reports how they went. It
// returns when every call ended, or early when ctx ends (calls in progress
// are then hung up).
func Run(ctx context.Context, opt Options) (*Report, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	cs, _ := codecOf(opt.Codec)
	r := &runner{opt: opt, codec: cs,
		hc: &http.Client{Timeout: opt.SetupTimeout, Transport: &http.Transport{
			MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second,
			DialContext: dialer(opt.Netns)}},
		pace: newPacer(max(1, runtime.GOMAXPROCS(0))), recv: udpbatch.NewPoller(1500, nil)}
	defer r.hc.CloseIdleConnections()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if r.cert, err = webrtc.GenerateCertificate(key); err != nil {
		return nil, err
	}
	if r.leanCert, err = newLeanCert(); err != nil {
		return nil, err
	}

	drops0 := map[string]uint64{}
	for name, port := range opt.WatchUDP {
		drops0[name], _ = UDPDrops(port)
	}
	var idleBefore float64
	if opt.IdleWindow > 0 && opt.GatewayPID > 0 {
		idleBefore = idleCPU(opt.GatewayPID, opt.IdleWindow)
	}
	base := r.take()
	samples := []sample{base}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(opt.Sample)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			s := r.take()
			r.mu.Lock()
			prev := samples[len(samples)-1]
			samples = append(samples, s)
			r.mu.Unlock()
			if opt.Progress != nil {
				fmt.Fprintln(opt.Progress, progressLine(base, prev, s, opt))
			}
		}
	}()

	// after the baseline: the sessions' memory counts in Janus's MB per
	// call, as a gateway call's signaling state counts in the gateway's
	if opt.Janus != "" && opt.JanusRegisterFirst {
		r.janusSessions = r.registerAhead(ctx)
		r.janusUsed = make([]atomic.Bool, len(r.janusSessions))
		defer closeUnused(r.janusSessions, r.janusUsed)
	}
	sem := make(chan struct{}, opt.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
schedule:
	for i := 0; i < opt.Total; i++ {
		due := start.Add(time.Duration(float64(i) / opt.Rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				break schedule
			case <-time.After(d):
			}
		}
		select {
		case <-ctx.Done():
			break schedule
		case sem <- struct{}{}:
		}
		r.attempted.Add(1)
		r.lastStart = time.Now()
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			res := r.place(ctx, id)
			if res.Answered {
				r.answered.Add(1)
			}
			if res.Failure != "" {
				r.failed.Add(1)
			}
			r.mu.Lock()
			r.results = append(r.results, res)
			r.mu.Unlock()
			r.finished.Add(1)
			<-sem
		}(i)
	}
	wg.Wait()
	end := time.Now()
	close(stopSampling)
	<-sampled
	r.pace.close()
	last := r.take()
	samples = append(samples, last)
	rep := r.report(samples, start, end)
	if opt.IdleWindow > 0 && rep.Gateway != nil {
		// after the run's window: not counted in its CPU
		rep.Gateway.IdleBefore = idleBefore
		rep.Gateway.IdleAfter = idleCPU(opt.GatewayPID, opt.IdleWindow)
	}
	if len(opt.WatchUDP) > 0 {
		rep.Media.SocketDrops = map[string]uint64{}
		for name, port := range opt.WatchUDP {
			n, _ := UDPDrops(port)
			rep.Media.SocketDrops[name] = n - drops0[name]
		}
	}
	return rep, nil
}

func progressLine(base, prev, s sample, opt Options) string {
	dt := s.at.Sub(prev.at).Seconds()
	line := fmt.Sprintf("calldial %5.0fs  calls %d/%d  up %d  done %d  pkts tx %d rx %d",
		s.at.Sub(base.at).Seconds(), s.attempted, opt.Total, s.held, s.finished, s.sent, s.received)
	if opt.GatewayPID > 0 && dt > 0 {
		line += fmt.Sprintf("  gateway cpu %3.0f%% rss %d MB", (s.gwCPU-prev.gwCPU).Seconds()/dt*100, s.gwRSS>>20)
	}
	if dt > 0 {
		line += fmt.Sprintf("  calldial cpu %3.0f%%", (s.self-prev.self).Seconds()/dt*100)
	}
	return line
}

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
