package modemsim

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"edgebox/modem"
)

// session is one AT conversation over a byte stream.
type session struct {
	s     *Sim
	wmu   sync.Mutex
	w     io.Writer
	queue []string // URCs waiting to be written (guarded by Sim.mu)

	cmu  sync.Mutex // guards call; never held while taking Sim.mu
	call *dataCall  // the PPP call in progress, nil in command mode
}

// activeCall is the call in progress, nil in command mode.
func (ss *session) activeCall() *dataCall {
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	return ss.call
}

func (ss *session) writeRaw(b string) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	// A peer that does not read (guest without the driver loaded) must
	// not stall the modem: like a UART overflow, the bytes are lost.
	if d, ok := ss.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(time.Now().Add(2 * time.Second))
	}
	b, split := ss.s.shapeWrite(b)
	if split > 0 && len(b) > 1 {
		// The answer reaches the box in two pieces (cardfaults.go).
		ss.w.Write([]byte(b[:len(b)/2]))
		time.Sleep(split)
		b = b[len(b)/2:]
	}
	ss.w.Write([]byte(b))
}

func (ss *session) flushQueue(s *Sim) {
	if c := ss.activeCall(); c != nil && c.isOnline() {
		return // no URCs in the PPP stream; they wait for command mode
	}
	s.mu.Lock()
	q := ss.queue
	ss.queue = nil
	s.mu.Unlock()
	for _, u := range q {
		ss.writeRaw("\r\n" + u + "\r\n")
	}
}

// Serve runs an AT session on rw until ctx ends or rw fails (EOF when the
// peer disconnects). The modem's state outlives the session.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	ss := &session{s: s, w: rw}
	s.mu.Lock()
	s.sessions[ss] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	}()
	if c, ok := rw.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
	}
	defer func() {
		if c := ss.activeCall(); c != nil {
			c.stop(true, false)
		}
	}()
	buf := make([]byte, 1024)
	var line []byte
	smsMode := false // collecting a PDU after the "> " prompt
	var smsCmd string
	for {
		n, err := rw.Read(buf)
		for i := 0; i < n; i++ {
			if c := ss.activeCall(); c != nil && c.isOnline() {
				c.feed(buf[i:n])
				break
			}
			b := buf[i]
			if s.deaf() {
				line = line[:0]
				smsMode = false
				continue
			}
			if smsMode {
				switch b {
				case 0x1a: // Ctrl-Z: send
					smsMode = false
					pdu := strings.TrimSpace(string(line))
					line = line[:0]
					s.respond(ss, smsCmd, pdu, true)
				case 0x1b: // ESC: cancel
					smsMode = false
					line = line[:0]
					ss.writeRaw("\r\nOK\r\n")
				case '\r', '\n':
				default:
					line = append(line, b)
				}
				continue
			}
			if b == '\r' || b == '\n' {
				cmd := strings.TrimSpace(string(line))
				line = line[:0]
				if cmd == "" {
					continue
				}
				if c := ss.activeCall(); c != nil && c.onlineCommand(cmd) {
					continue
				}
				if s.respond(ss, cmd, "", false) {
					smsMode, smsCmd = true, cmd
				}
				if s.takeDialed() {
					if err := s.startCall(ss); err != nil {
						s.log.Warn("modemsim: PPP call", "err", err)
						s.mu.Lock()
						s.setLink(0)
						s.mu.Unlock()
						ss.writeRaw("\r\nNO CARRIER\r\n")
						s.flush()
					}
				}
				continue
			}
			if b == 0x1b {
				continue // ESC outside SMS input: ignored, as V.250 cards do
			}
			if len(line) < 4096 {
				line = append(line, b)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func (s *Sim) deaf() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hang || s.dead || s.booting
}

// respond handles one command line (or a PDU after the prompt) and writes
// the answer. It returns true when the modem now waits for a PDU.
func (s *Sim) respond(ss *session, cmd, pdu string, isPDU bool) (prompt bool) {
	s.mu.Lock()
	// Lines are written one by one, so URCs from other goroutines can land
	// between them, as on a real modem.
	var out []string
	if s.echo {
		if isPDU {
			out = append(out, pdu)
		} else {
			out = append(out, cmd+"\r")
		}
	}
	var boot []string
	if s.heldBoot && !isPDU {
		// The card finishes booting as the first command arrives: its
		// boot lines go out before the answer.
		s.heldBoot, s.booting, s.ready = false, false, true
		for _, u := range s.prof.bootURCs(s) {
			boot = append(boot, "\r\n"+u+"\r\n")
		}
		s.lastReg = s.regStat()
	}
	var r reply
	if isPDU && strings.HasPrefix(s.round4.rebootAt, "AT+CMGS") {
		// The card crashes with the PDU in hand: nothing is sent.
		r = reply{final: "OK"}
	} else if isPDU {
		r = s.sendSMS(cmd, pdu)
	} else {
		s.cmds = append(s.cmds, cmd)
		if !strings.HasPrefix(strings.ToUpper(cmd), "AT") {
			s.mu.Unlock()
			for _, o := range out {
				ss.writeRaw(o)
			}
			return false
		}
		r = s.exec(cmd)
	}
	if s.rebootInsteadLocked(cmd, &r) {
		// Crashed before answering (round4.go): boot URCs come later.
		s.mu.Unlock()
		s.flush()
		return false
	}
	late, twice := s.answerFaultLocked(cmd, &r)
	if !isPDU {
		late += s.slowLocked(cmd)
		s.simBusyLocked(cmd, &r)
	}
	s.cardReplyLocked(&r)
	inter := []string(nil)
	if len(r.lines) > 0 && len(s.interleave) > 0 {
		inter = s.interleave
		s.interleave = nil
	}
	for i, l := range r.lines {
		out = append(out, "\r\n"+l+"\r\n")
		if i == 0 {
			for _, u := range inter {
				out = append(out, "\r\n"+u+"\r\n")
			}
		}
	}
	if r.prompt {
		out = append(out, "\r\n> ")
	} else {
		out = append(out, "\r\n"+r.final+"\r\n")
		for _, u := range inter {
			out = append(out, "\r\n"+u+"\r\n")
		}
	}
	if twice {
		out = append(out, out...)
	}
	delay := s.cfg.AnswerDelay + late
	s.mu.Unlock()
	for _, o := range boot {
		ss.writeRaw(o)
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	for _, o := range out {
		ss.writeRaw(o)
	}
	s.flush()
	return r.prompt
}

type reply struct {
	lines  []string
	final  string
	prompt bool
}

func ok(lines ...string) reply { return reply{lines: lines, final: "OK"} }

func (s *Sim) cme(code int) reply {
	if r, ok := s.cmeRound6(code); ok {
		return r
	}
	cmee := s.cmee
	if s.cards.verbose {
		cmee = 2
	}
	switch cmee {
	case 1:
		return reply{final: "+CME ERROR: " + itoa(code)}
	case 2:
		return reply{final: "+CME ERROR: " + modem.CMEMeaning(code)}
	}
	return reply{final: "ERROR"}
}

func (s *Sim) cms(code int) reply {
	if s.cmee == 0 {
		return reply{final: "ERROR"}
	}
	return reply{final: "+CMS ERROR: " + itoa(code)}
}

func errReply() reply { return reply{final: "ERROR"} }

// sendSMS handles the PDU after AT+CMGS=<len>.
func (s *Sim) sendSMS(cmd, pdu string) reply {
	n, err := atoi(strings.TrimPrefix(strings.ToUpper(cmd), "AT+CMGS="))
	if err != nil {
		return s.cms(304)
	}
	if !isHexStr(pdu) || tpduLen(pdu) != n {
		return s.cms(304)
	}
	to, tp, err := modem.DecodeSubmit(pdu)
	if err != nil {
		return s.cms(304)
	}
	if !regOK(s.regStat()) {
		return s.cms(331)
	}
	s.sent = append(s.sent, Sent{To: to, PDU: pdu})
	mr := s.mr
	s.mr = (s.mr + 1) % 256
	s.smsSubmittedLocked(to, mr, tp.FirstOctet.SRR())
	return ok("+CMGS: " + itoa(mr))
}

func isHexStr(p string) bool {
	_, err := hex.DecodeString(p)
	return err == nil && p != ""
}

// tpduLen is the TPDU length in octets of a PDU-mode string (without the
// SMSC part), what +CMGS/+CMGR/+CMGL count.
func tpduLen(p string) int {
	b, err := hex.DecodeString(p)
	if err != nil || len(b) == 0 {
		return -1
	}
	return len(b) - 1 - int(b[0])
}

func encodeDeliver(from, text string, at time.Time, ref int) ([]string, error) {
	return modem.EncodeDeliver(from, text, at, ref)
}

// takeDialed reports (once) that a dial just answered CONNECT on a modem
// that starts a PPP call.
func (s *Sim) takeDialed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dialed
	s.dialed = false
	return d
}
