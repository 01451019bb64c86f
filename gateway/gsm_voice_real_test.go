package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// realVoice is the GSM side as on the box: cmd/netctl (its own namespace)
// driving cmd/modemsim (Quectel EC25: it reports received DTMF) over a
// pty, modemsim's PCM port on a unix socket that netctl reports as the
// audio port (network.modem.audio_port). The test plays the network
// through modemsim's control socket.
type realVoice struct{ *realNetctl }

func startRealVoice(t *testing.T) *realVoice {
	t.Helper()
	testenv.RequireRoot(t, "ip")
	netctlBin, simBin := smsBinaries(t)
	dir := t.TempDir()
	r := &realNetctl{t: t, ctl: filepath.Join(dir, "modemsim.ctl")}
	audio := filepath.Join(dir, "pcm.sock")
	pty, sim := startModemsimProc(t, simBin, r.ctl, audio, "quectel-ec25", "--number", gsmSIMNum)
	r.api = startNetctlProc(t, netctlBin, dir, "gwvoice", modemNetwork(pty, "quectel-ec25", audio), sim)
	err := testenv.Until(30*time.Second, "netctl's GSM API with voice set up", func() (bool, error) {
		st, err := r.api.GSMStatus(context.Background())
		return err == nil && st.Voice && st.AudioPort == audio, nil
	})
	if err != nil {
		st, e := r.api.GSMStatus(context.Background())
		t.Fatalf("%v (last status %+v %v)", err, st, e)
	}
	return &realVoice{r}
}

func (r *realVoice) call(number string)     { r.control("call " + number) }
func (r *realVoice) hangup()                { r.control("hangup") }
func (r *realVoice) setDialResult(s string) { r.control("dialresult " + s) }
func (r *realVoice) sendDTMF(d string)      { r.control("dtmf " + d) }
func (r *realVoice) setDetect(hz float64)   { r.control(fmt.Sprintf("audio detect %g", hz)) }

func (r *realVoice) state() (st struct {
	Calls  []json.RawMessage
	DTMF   []string
	Dialed []string
}) {
	if err := json.Unmarshal([]byte(r.control("calls")), &st); err != nil {
		r.t.Fatalf("modemsim calls: %v", err)
	}
	return st
}

func (r *realVoice) boxDTMF() []string { return r.state().DTMF }
func (r *realVoice) dialed() []string  { return r.state().Dialed }
func (r *realVoice) live() int         { return len(r.state().Calls) }

// audio counts over the current or last call (modemsim resets them per
// call); the tests compare within one call.
func (r *realVoice) audio() (int, int) {
	var st struct {
		FramesReceived int `json:"frames_received"`
		ToneFrames     int `json:"tone_frames"`
	}
	if err := json.Unmarshal([]byte(r.control("audio")), &st); err != nil {
		r.t.Fatalf("modemsim audio: %v", err)
	}
	return st.FramesReceived, st.ToneFrames
}
