package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/internal/localapi"
)

// edgectl modem says which slot holds the modem and how that is known,
// as the web UI's Signal page does (issue 24), against a netctl modem API
// on a unix socket.
func TestModemStatusShowsSlot(t *testing.T) {
	dir := t.TempDir()
	bin := buildCmd(t, dir, "edgectl")
	run := filepath.Join(dir, "run")
	var mu sync.Mutex
	var status netapi.ModemStatus
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/modem", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		localapi.WriteJSON(w, 200, status)
	})
	serveFake(t, run, "netctl.sock", mux)

	dev := &modemapi.Device{Port: "/dev/ttyUSB2", USBPath: "2-1.3"}
	for _, tc := range []struct {
		name string
		slot *netapi.ModemSlot
		dev  *modemapi.Device
		want []string
		not  []string
	}{
		{"guessed USB map", &netapi.ModemSlot{Name: "mPCIe 2", SIM: "J14", Source: netapi.SlotFromGuessedUSB, USB: "USB port 1.3 of 0000:00:12.0"}, dev,
			[]string{"mPCIe 2 (SIM J14)", "guessed from its USB port", "set network.modem.slot if it is wrong", "USB port 1.3 of 0000:00:12.0"}, nil},
		{"confirmed USB map", &netapi.ModemSlot{Name: "mPCIe 1", SIM: "J13", Source: netapi.SlotFromUSB, USB: "USB port 1.3 of 0000:00:13.0"}, dev,
			[]string{"mPCIe 1 (SIM J13)", "its USB port (the board's slot map)"}, []string{"guessed"}},
		{"config", &netapi.ModemSlot{Name: "mPCIe 1", SIM: "J13", Source: netapi.SlotFromConfig}, dev,
			[]string{"mPCIe 1 (SIM J13)", "set in the config (network.modem.slot)"}, []string{"guessed"}},
		{"unknown", &netapi.ModemSlot{Name: "unknown", USB: "USB port 2 of 0000:00:10.0",
			Reason: "the modem is on USB port 2 of 0000:00:10.0, which is no mini-PCIe slot of this board; set network.modem.slot if you know it"}, dev,
			[]string{"unknown", "which is no mini-PCIe slot of this board", "set network.modem.slot if you know it"}, nil},
		{"not reported", nil, dev, []string{"not reported by netctl"}, nil},
		{"no modem", nil, nil, nil, []string{"slot"}},
	} {
		mu.Lock()
		status = netapi.ModemStatus{State: "connected", Device: tc.dev, Slot: tc.slot}
		mu.Unlock()
		cmd := exec.Command(bin, "modem")
		cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+run)
		b, err := cmd.CombinedOutput()
		out := string(b)
		if err != nil {
			t.Fatalf("%s: edgectl modem: %v\n%s", tc.name, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: edgectl modem lacks %q:\n%s", tc.name, w, out)
			}
		}
		if tc.slot != nil && !regexp.MustCompile(`(?m)^slot +`+regexp.QuoteMeta(strings.Split(tc.want[0], " (")[0])).MatchString(out) {
			t.Errorf("%s: no slot row naming %q:\n%s", tc.name, tc.want[0], out)
		}
		for _, w := range tc.not {
			if strings.Contains(out, w) {
				t.Errorf("%s: edgectl modem says %q:\n%s", tc.name, w, out)
			}
		}
	}
}

// edgectl modem puk unblocks a PUK-locked SIM through web (which stores
// the new PIN), and says what the SIM answered; the status shows the PUK
// attempts left and how to enter the PUK.
func TestModemPUK(t *testing.T) {
	dir := t.TempDir()
	bin := buildCmd(t, dir, "edgectl")
	run := filepath.Join(dir, "run")
	var got []map[string]string
	var mu sync.Mutex
	web := http.NewServeMux()
	web.HandleFunc("POST /api/v1/modem/puk", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		if err := localapi.ReadJSON(r, &req); err != nil {
			localapi.WriteError(w, 400, err)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		if req["puk"] != "12345678" {
			localapi.WriteError(w, 422, errors.New("the SIM rejected the PUK (9 PUK attempts left); it will not be sent again"))
			return
		}
		localapi.WriteJSON(w, 200, map[string]any{"ok": true})
	})
	serveFake(t, run, "web.sock", web)
	netctl := http.NewServeMux()
	netctl.HandleFunc("GET /v1/modem", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, netapi.ModemStatus{State: "sim", SIM: &modemapi.SIMStatus{State: modemapi.SIMPUK, PINAttempts: 0, PUKAttempts: 10}})
	})
	serveFake(t, run, "netctl.sock", netctl)
	edgectl := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+run)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	if out, err := edgectl("modem"); err != nil || !strings.Contains(out, "10 PUK attempts left: edgectl modem puk") {
		t.Errorf("status of a PUK-locked SIM: %v\n%s", err, out)
	}
	if out, err := edgectl("modem", "puk", "87654321", "4321"); err == nil || !strings.Contains(out, "9 PUK attempts left") {
		t.Errorf("wrong PUK: %v\n%s", err, out)
	}
	if out, err := edgectl("modem", "puk", "12345678", "4321"); err != nil || !strings.Contains(out, "SIM unblocked") {
		t.Errorf("right PUK: %v\n%s", err, out)
	}
	if out, err := edgectl("modem", "puk", "12345678"); err == nil || !strings.Contains(out, "usage") {
		t.Errorf("no new PIN: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[1]["new_pin"] != "4321" {
		t.Errorf("web got %v", got)
	}
}
