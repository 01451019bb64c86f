package gateway_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/localapi"
)

// gsmFarEnd is the GSM network and the card as the voice tests drive
// them: a call to the SIM, the far end hanging up or sending DTMF, what
// the next dial meets, and what the card's audio port heard.
type gsmFarEnd interface {
	call(number string) // "withheld" withholds it
	hangup()
	setDialResult(r string) // answer busy noanswer nocarrier nonetwork invalid
	sendDTMF(d string)
	boxDTMF() []string // digits the box sent (AT+VTS)
	dialed() []string
	audio() (received, tone int) // frames from the box; those carrying the detect tone
	setDetect(hz float64)        // the tone audio() counts (1000 Hz at first)
	live() int                   // calls the card holds
}

// fakeNetctlVoice serves netctl's GSM voice API (api/netapi/gsm.go) on
// EDGEBOX_RUN_DIR/netctl.sock with a scripted network behind it, and a
// PCM audio port (unix socket) that plays 1000 Hz while a call is up and
// checks by Goertzel what comes back. It stands where netctl's own server
// with an embedded modemsim goes once that is in the tree.
type fakeNetctlVoice struct {
	mu        sync.Mutex
	events    []netapi.GSMEvent
	seq       uint64
	notify    chan struct{}
	callIdx   int
	up        bool // a call is connected: audio flows
	calls     map[int]bool
	result    string
	vts       []string
	dials     []string
	rx, tones int
	detect    float64
	port      string
}

func startFakeNetctlVoice(t *testing.T) *fakeNetctlVoice {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("EDGEBOX_RUN_DIR", dir)
	n := &fakeNetctlVoice{notify: make(chan struct{}), calls: map[int]bool{}, detect: 1000, port: filepath.Join(dir, "pcm.sock")}
	al, err := net.Listen("unix", n.port)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go n.serveAudio(ctx, al)
	l, err := localapi.ListenPath(filepath.Join(dir, "netctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/gsm/status", func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		st := netapi.GSMStatus{Voice: true, AudioPort: n.port, AudioFormat: netapi.GSMAudioFormat, Slot: "1", Number: "+4915100000001", IMSI: "262019999999999", Registered: true, Seq: n.seq, Calls: []netapi.GSMCall{}}
		for i := range n.calls {
			st.Calls = append(st.Calls, netapi.GSMCall{Call: i, State: netapi.GSMCallActive})
		}
		localapi.WriteJSON(w, 200, st)
	})
	m.HandleFunc("GET /v1/gsm/events", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		end := time.After(wait)
		for {
			n.mu.Lock()
			out := []netapi.GSMEvent{}
			for _, ev := range n.events {
				if ev.Seq > after {
					out = append(out, ev)
				}
			}
			ch := n.notify
			n.mu.Unlock()
			if len(out) > 0 {
				localapi.WriteJSON(w, 200, out)
				return
			}
			select {
			case <-ch:
			case <-end:
				localapi.WriteJSON(w, 200, out)
				return
			case <-r.Context().Done():
				return
			}
		}
	})
	m.HandleFunc("POST /v1/gsm/answer", func(w http.ResponseWriter, r *http.Request) {
		var req netapi.GSMCallRequest
		localapi.ReadJSON(r, &req)
		n.mu.Lock()
		ok := n.calls[req.Call]
		if ok {
			n.up = true
			n.emitLocked(netapi.GSMEvent{Kind: netapi.GSMConnected, Call: req.Call})
		}
		n.mu.Unlock()
		if !ok {
			localapi.WriteError(w, 409, errors.New("no such call"))
			return
		}
		localapi.WriteJSON(w, 200, struct{}{})
	})
	m.HandleFunc("POST /v1/gsm/hangup", func(w http.ResponseWriter, r *http.Request) {
		var req netapi.GSMCallRequest
		localapi.ReadJSON(r, &req)
		n.mu.Lock()
		for i := range n.calls {
			if req.Call == 0 || req.Call == i {
				n.endLocked(i, netapi.GSMEndLocalHangup)
			}
		}
		n.mu.Unlock()
		localapi.WriteJSON(w, 200, struct{}{})
	})
	m.HandleFunc("POST /v1/gsm/dtmf", func(w http.ResponseWriter, r *http.Request) {
		var req netapi.GSMDTMFRequest
		localapi.ReadJSON(r, &req)
		n.mu.Lock()
		n.vts = append(n.vts, req.Digits)
		n.mu.Unlock()
		localapi.WriteJSON(w, 200, struct{}{})
	})
	m.HandleFunc("POST /v1/gsm/dial", func(w http.ResponseWriter, r *http.Request) {
		var req netapi.GSMDialRequest
		localapi.ReadJSON(r, &req)
		n.mu.Lock()
		defer n.mu.Unlock()
		n.dials = append(n.dials, req.Number)
		res := n.result
		switch res {
		case "nonetwork", "invalid":
			localapi.WriteJSON(w, 200, netapi.GSMDialResult{Ended: map[string]string{"nonetwork": netapi.GSMEndNoNetwork, "invalid": netapi.GSMEndInvalidNumber}[res]})
			return
		}
		n.callIdx++
		idx := n.callIdx
		n.calls[idx] = true
		localapi.WriteJSON(w, 200, netapi.GSMDialResult{Call: idx})
		go func() {
			time.Sleep(150 * time.Millisecond)
			n.mu.Lock()
			if n.calls[idx] {
				n.emitLocked(netapi.GSMEvent{Kind: netapi.GSMAlerting, Call: idx})
			}
			n.mu.Unlock()
			time.Sleep(600 * time.Millisecond)
			n.mu.Lock()
			defer n.mu.Unlock()
			if !n.calls[idx] {
				return
			}
			switch res {
			case "busy":
				n.endLocked(idx, netapi.GSMEndBusy)
			case "noanswer":
				n.endLocked(idx, netapi.GSMEndNoAnswer)
			case "nocarrier":
				n.endLocked(idx, netapi.GSMEndNoCarrier)
			case "ringforever":
			default:
				n.up = true
				n.emitLocked(netapi.GSMEvent{Kind: netapi.GSMConnected, Call: idx})
			}
		}()
	})
	srv := &http.Server{Handler: m}
	go srv.Serve(l)
	t.Cleanup(func() {
		cancel()
		srv.Close()
		al.Close()
	})
	return n
}

func (n *fakeNetctlVoice) emitLocked(ev netapi.GSMEvent) {
	n.seq++
	ev.Seq, ev.Time = n.seq, time.Now()
	n.events = append(n.events, ev)
	close(n.notify)
	n.notify = make(chan struct{})
}

func (n *fakeNetctlVoice) endLocked(idx int, reason string) {
	delete(n.calls, idx)
	n.up = false
	n.emitLocked(netapi.GSMEvent{Kind: netapi.GSMEnded, Call: idx, Reason: reason})
}

func (n *fakeNetctlVoice) call(number string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.callIdx++
	n.calls[n.callIdx] = true
	ev := netapi.GSMEvent{Kind: netapi.GSMIncoming, Call: n.callIdx, Number: number}
	if number == "withheld" {
		ev.Number, ev.Withheld, ev.Reason = "", true, "withheld"
	}
	n.emitLocked(ev)
}

func (n *fakeNetctlVoice) hangup() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.calls {
		n.endLocked(i, netapi.GSMEndRemoteHangup)
	}
}

func (n *fakeNetctlVoice) setDialResult(r string) { n.mu.Lock(); n.result = r; n.mu.Unlock() }

func (n *fakeNetctlVoice) sendDTMF(d string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.calls {
		n.emitLocked(netapi.GSMEvent{Kind: netapi.GSMDTMF, Call: i, Number: d})
	}
}

func (n *fakeNetctlVoice) boxDTMF() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.vts...)
}

func (n *fakeNetctlVoice) dialed() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.dials...)
}

func (n *fakeNetctlVoice) audio() (int, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rx, n.tones
}

func (n *fakeNetctlVoice) setDetect(hz float64) { n.mu.Lock(); n.detect = hz; n.mu.Unlock() }

func (n *fakeNetctlVoice) live() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.calls)
}

// serveAudio clocks 20 ms frames of 1000 Hz to each peer while a call
// is up, and counts the frames coming back that carry the detect tone.
func (n *fakeNetctlVoice) serveAudio(ctx context.Context, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			go func() {
				buf := make([]byte, 320)
				x := make([]int16, 160)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					for i := range x {
						x[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
					}
					n.mu.Lock()
					tone := toneShare(x, n.detect) > 0.5
					if n.up {
						n.rx++
						if tone {
							n.tones++
						}
					}
					n.mu.Unlock()
				}
			}()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			phase := 0.0
			buf := make([]byte, 320)
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				n.mu.Lock()
				up := n.up
				n.mu.Unlock()
				if !up {
					continue
				}
				for i := 0; i < 160; i++ {
					binary.LittleEndian.PutUint16(buf[2*i:], uint16(int16(8000*math.Sin(phase))))
					phase += 2 * math.Pi * 1000 / 8000
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}

// toneShare is the share of x's energy at hz (Goertzel).
func toneShare(x []int16, hz float64) float64 {
	w := 2 * math.Pi * hz / 8000
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range x {
		f := float64(v)
		s := f + coeff*s1 - s2
		s2, s1 = s1, s
		total += f * f
	}
	if total == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - coeff*s1*s2) / (total * float64(len(x)) / 2)
}
