package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
)

func init() {
	register("modem", command{usage: "modem [status | signal | connect | disconnect | at CMD | puk PUK NEWPIN]",
		help: "the LTE/3G modem: identity, SIM, network, signal; connect; AT passthrough (logged); unblock a PUK-locked SIM (the new PIN is stored as network.modem.pin)", run: runModem})
}

func runModem(ctx context.Context, g *globals, args []string) error {
	c := netClient()
	sub := "status"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "status", "signal":
		m, err := c.Modem(ctx)
		if err != nil {
			return err
		}
		if g.JSON {
			if sub == "signal" {
				return printJSON(m.SignalHistory)
			}
			return printJSON(m)
		}
		if sub == "signal" {
			printSignalHistory(m.SignalHistory)
			return nil
		}
		printModem(m)
		return nil
	case "connect":
		return c.Connect(ctx)
	case "disconnect":
		return c.Disconnect(ctx)
	case "at":
		if len(args) == 0 {
			return errors.New("usage: edgectl modem at AT+COMMAND")
		}
		r, err := c.AT(ctx, strings.Join(args, " "))
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(r)
		}
		for _, l := range r.Lines {
			fmt.Println(l)
		}
		return nil
	case "puk":
		// Through web, as the setup page does: it stores the new PIN
		// as network.modem.pin once the SIM took the PUK.
		if len(args) != 2 {
			return errors.New("usage: edgectl modem puk PUK NEWPIN  (the 8-digit PUK from the SIM's card holder; sent once)")
		}
		var res struct {
			Warning string `json:"warning"`
		}
		if err := webClient().Post(ctx, "/api/v1/modem/puk", map[string]string{"puk": args[0], "new_pin": args[1]}, &res); err != nil {
			return err
		}
		fmt.Println("SIM unblocked; its new PIN is stored as network.modem.pin")
		if res.Warning != "" {
			fmt.Println("warning:", res.Warning)
		}
		return nil
	}
	return fmt.Errorf("unknown modem command %q (status, signal, connect, disconnect, at, puk)", sub)
}

func printModem(m netapi.ModemStatus) {
	rows := [][]string{{"state", m.State}}
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, []string{k, v})
		}
	}
	add("error", m.Error)
	if d := m.Device; d != nil {
		add("port", d.Port)
		add("interface", d.NetIface)
		if d.VID != "" {
			add("usb id", d.VID+":"+d.PID)
		}
	}
	add("profile", m.Profile)
	rows = append(rows, slotRows(m)...)
	if id := m.Identity; id != nil {
		add("model", strings.TrimSpace(id.Manufacturer+" "+id.Model))
		add("firmware", id.Firmware)
		add("imei", id.IMEI)
		add("imsi", id.IMSI)
		add("iccid", id.ICCID)
	}
	if s := m.SIM; s != nil {
		v := string(s.State)
		if s.PINAttempts >= 0 && s.State == modemapi.SIMPIN {
			v += fmt.Sprintf(" (%d PIN attempts left)", s.PINAttempts)
		}
		switch {
		case s.State == modemapi.SIMPUK && s.PUKAttempts == 0:
			v += " (no PUK attempts left: blocked for good)"
		case s.State == modemapi.SIMPUK && s.PUKAttempts > 0:
			v += fmt.Sprintf(" (%d PUK attempts left: edgectl modem puk PUK NEWPIN)", s.PUKAttempts)
		}
		add("sim", v)
	}
	if r := m.Registration; r != nil {
		add("network", string(r.State))
		add("operator", r.Operator)
		add("technology", string(r.Tech))
	}
	if s := m.Signal; s != nil {
		add("signal", signalStr(*s))
	}
	add("apn", m.APN)
	if m.Link != nil {
		add("data link", yesNo(m.Link.Connected))
	}
	rows = append(rows, []string{"resets", fmt.Sprint(m.Resets)})
	table(rows)
}

// slotRows say which mini-PCIe slot holds the modem and how that is known,
// in the Signal page's words (web/signal.go slotWords): from the config,
// from the board's USB map (saying when that map is a guess), or unknown
// with the reason and what to set.
func slotRows(m netapi.ModemStatus) [][]string {
	s := m.Slot
	if s == nil {
		if m.Device == nil {
			return nil // no modem detected and no slot configured: nothing to say
		}
		return [][]string{{"slot", "not reported by netctl"}}
	}
	if s.Name == "" || s.Name == "unknown" {
		rows := [][]string{{"slot", "unknown"}, {"slot why", s.Reason}}
		if s.USB != "" {
			rows = append(rows, []string{"modem usb", s.USB})
		}
		return rows
	}
	slot := s.Name
	if s.SIM != "" {
		slot += " (SIM " + s.SIM + ")"
	}
	var from string
	switch s.Source {
	case netapi.SlotFromConfig:
		from = "set in the config (network.modem.slot)"
	case netapi.SlotFromGuessedUSB:
		from = "guessed from its USB port: the board's slot map is not confirmed; set network.modem.slot if it is wrong"
	case netapi.SlotFromUSB:
		from = "its USB port (the board's slot map)"
	default:
		from = s.Source
	}
	rows := [][]string{{"slot", slot}, {"slot from", from}}
	if s.USB != "" {
		rows = append(rows, []string{"modem usb", s.USB})
	}
	return rows
}

func signalStr(s modemapi.Signal) string {
	var parts []string
	if s.RSSI != nil {
		parts = append(parts, fmt.Sprintf("RSSI %d dBm", *s.RSSI))
	}
	if s.RSRP != nil {
		parts = append(parts, fmt.Sprintf("RSRP %d dBm", *s.RSRP))
	}
	if s.RSRQ != nil {
		parts = append(parts, fmt.Sprintf("RSRQ %.1f dB", *s.RSRQ))
	}
	if s.SINR != nil {
		parts = append(parts, fmt.Sprintf("SINR %.1f dB", *s.SINR))
	}
	if s.RSCP != nil {
		parts = append(parts, fmt.Sprintf("RSCP %d dBm", *s.RSCP))
	}
	if s.Tech != "" {
		parts = append(parts, string(s.Tech))
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, ", ")
}

func printSignalHistory(h []netapi.SignalSample) {
	rows := [][]string{{"TIME", "SIGNAL"}}
	for _, s := range h {
		rows = append(rows, []string{s.Time.Local().Format(time.TimeOnly), signalStr(s.Signal)})
	}
	table(rows)
}
