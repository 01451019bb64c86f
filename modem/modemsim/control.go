package modemsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ControlHelp lists the control commands (one per line on the socket).
const ControlHelp = `hang on|off          stop / resume answering (vendor reset not heard)
dead on|off          never answer, even after a power cycle
garbage N            write N random non-AT bytes
sim remove|insert    pull / insert the SIM
pin require PIN      enable the SIM PIN and lock the SIM
reg home|roaming|searching|denied|none
drop                 network drops the data connection
reboot               modem reboots
powercycle           slot power cycle (ends a hang)
sms FROM TEXT...     deliver a message (long texts arrive in parts)
smslong FROM N       deliver an N-character message (multipart)
urc LINE             send an unsolicited line
urc-in-response LINE put LINE inside the next response and after its OK
state                JSON state
commands             JSON list of received command lines`

// Control runs one control command and returns its output.
func (s *Sim) Control(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", errors.New("empty command")
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	onOff := func() (bool, error) {
		switch arg(1) {
		case "on":
			return true, nil
		case "off":
			return false, nil
		}
		return false, fmt.Errorf("%s: want on or off", f[0])
	}
	rest := func(n int) string {
		s := line
		for i := 0; i < n; i++ {
			s = strings.TrimLeft(s, " \t")
			j := strings.IndexAny(s, " \t")
			if j < 0 {
				return ""
			}
			s = s[j:]
		}
		return strings.TrimLeft(s, " \t")
	}
	switch f[0] {
	case "hang":
		on, err := onOff()
		if err != nil {
			return "", err
		}
		s.Hang(on)
	case "dead":
		on, err := onOff()
		if err != nil {
			return "", err
		}
		s.Dead(on)
	case "garbage":
		n, err := strconv.Atoi(arg(1))
		if err != nil || n <= 0 || n > 1<<16 {
			return "", errors.New("garbage: want a byte count 1..65536")
		}
		s.Garbage(n)
	case "sim":
		switch arg(1) {
		case "remove":
			s.RemoveSIM()
		case "insert":
			s.InsertSIM()
		default:
			return "", errors.New("sim: want remove or insert")
		}
	case "pin":
		if arg(1) != "require" || arg(2) == "" {
			return "", errors.New("pin: want 'pin require PIN'")
		}
		s.RequirePIN(arg(2))
	case "reg":
		if err := s.SetRegistration(arg(1)); err != nil {
			return "", err
		}
	case "drop":
		s.DropData()
	case "reboot":
		if arg(1) == "quiet" {
			s.RebootQuietly()
			break
		}
		s.Reboot()
	case "powercycle":
		s.PowerCycle()
	case "sms":
		if arg(1) == "" || rest(2) == "" {
			return "", errors.New("sms: want 'sms FROM TEXT'")
		}
		idx, err := s.DeliverSMS(arg(1), rest(2))
		if err != nil {
			return "", err
		}
		return fmt.Sprint(idx), nil
	case "smslong":
		n, err := strconv.Atoi(arg(2))
		if arg(1) == "" || err != nil || n <= 0 || n > 2000 {
			return "", errors.New("smslong: want 'smslong FROM N' with N 1..2000")
		}
		text := strings.Repeat("0123456789", n/10+1)[:n]
		idx, err := s.DeliverSMS(arg(1), text)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(idx), nil
	case "urc":
		if rest(1) == "" {
			return "", errors.New("urc: want a line")
		}
		s.URC(rest(1))
	case "urc-in-response":
		if rest(1) == "" {
			return "", errors.New("urc-in-response: want a line")
		}
		s.URCInNextResponse(rest(1))
	case "state":
		b, err := json.Marshal(s.State())
		return string(b), err
	case "commands":
		b, err := json.Marshal(s.Commands())
		return string(b), err
	case "help":
		return ControlHelp + "\n" + FaultHelp + "\n" + CardHelp + "\n" + Round4Help + "\n" + Round6Help + "\n" + VoiceHelp, nil
	default:
		if out, ok, err := s.voiceControl(f); ok {
			return out, err
		}
		if out, ok, err := s.faultControl(f, rest); ok {
			return out, err
		}
		if out, ok, err := s.cardControl(f); ok {
			return out, err
		}
		if out, ok, err := s.round4Control(f); ok {
			return out, err
		}
		if out, ok, err := s.round6Control(f); ok {
			return out, err
		}
		return "", fmt.Errorf("unknown control command %q (try help)", f[0])
	}
	return "", nil
}

// ServeControl answers control commands on connections to ln: each line
// gets "OK[ output]" or "ERROR message".
func (s *Sim) ServeControl(ctx context.Context, ln net.Listener) error {
	return acceptEach(ctx, ln, func(err error) error { return err }, func(c net.Conn) {
		cstop := context.AfterFunc(ctx, func() { c.Close() })
		defer cstop()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			out, err := s.Control(sc.Text())
			if err != nil {
				fmt.Fprintf(c, "ERROR %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				continue
			}
			if out == "" {
				fmt.Fprintln(c, "OK")
			} else {
				fmt.Fprintf(c, "OK %s\n", strings.ReplaceAll(out, "\n", "\n  "))
			}
		}
	})
}
