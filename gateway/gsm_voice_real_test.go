package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/netapi"
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
	sim := testenv.Command(t, simBin, "--pty", "--profile", "quectel-ec25", "--control", r.ctl, "--audio", audio, "--number", gsmSIMNum)
	out, err := sim.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sim.Cmd.Stderr = sim.Log
	sim.Start()
	ptyc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			ptyc <- strings.TrimSpace(sc.Text())
		}
		for sc.Scan() {
		}
	}()
	var pty string
	select {
	case pty = <-ptyc:
	case <-time.After(10 * time.Second):
		t.Fatal("modemsim printed no pty path")
	}
	cfg := map[string]any{"version": 1, "network": map[string]any{
		"lan":     []any{},
		"wan":     map[string]any{"enabled": false, "method": "dhcp"},
		"modem":   map[string]any{"enabled": true, "port": pty, "profile": "quectel-ec25", "interface": "lte0", "method": "dhcp", "apn": "internet.test", "reset_after_sec": 0, "audio_port": audio},
		"uplinks": []any{"modem"},
	}}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ns := testenv.NewNetns(t, testenv.UniqueName("gwvoice"))
	sock := filepath.Join(dir, "netctl.sock")
	nc := ns.Command(netctlBin, "--config", cfgPath, "--socket", sock, "--sms-dir", filepath.Join(dir, "sms"), "--resolv-conf", filepath.Join(dir, "resolv.conf"))
	nc.Cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+dir, "EDGEBOX_PERM_DIR="+dir)
	nc.Start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("netctl log (tail):\n%s", testenv.Tail(nc.Log.String(), 6000))
			t.Logf("modemsim log (tail):\n%s", testenv.Tail(sim.Log.String(), 3000))
		}
	})
	t.Setenv("EDGEBOX_RUN_DIR", dir) // the gateway's netctl client
	r.api = netapi.NewClientPath(sock)
	err = testenv.Until(30*time.Second, "netctl's GSM API with voice set up", func() (bool, error) {
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
