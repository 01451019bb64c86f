package modemsim

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// A data call: after ATD*99...# answered CONNECT on a modem that speaks
// PPP (sierra-mc8775, generic) and Config.PPPPeer is set, the session's
// byte stream is wired to the peer command (the carrier's pppd) until it
// exits or the call is hung up: "+++" with a guard time of silence on both
// sides goes to online command mode (OK), where ATH ends the call (OK) and
// ATO resumes it (CONNECT). When the peer exits on its own, or the network
// drops the call, the modem says NO CARRIER and is in command mode again.
// DTR is not available on a pty, so there is no DTR hang-up.

type dataCall struct {
	s     *Sim
	ss    *session
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	guard time.Duration

	mu      sync.Mutex // guards the fields below
	online  bool       // bytes go to the peer (false: online command mode)
	hungUp  bool       // ended by ATH or the session's end: no NO CARRIER
	dropped bool       // ended by the network (DropData)
	lastRx  time.Time
	plus    int
	esc     *time.Timer
}

// speaksPPP reports whether the profile's dial starts a PPP data call.
func (p *profile) speaksPPP() bool { return p.ppp || p.name == "generic" }

// startCall runs the peer for ss after a dial answered CONNECT.
func (s *Sim) startCall(ss *session) error {
	argv := s.cfg.PPPPeer
	cmd := exec.Command(argv[0], argv[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = &logWriter{s: s}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("modemsim: PPP peer: %w", err)
	}
	guard := s.cfg.EscapeGuard
	if guard <= 0 {
		guard = time.Second
	}
	c := &dataCall{s: s, ss: ss, cmd: cmd, stdin: stdin, done: make(chan struct{}), guard: guard, online: true, lastRx: time.Now()}
	ss.cmu.Lock()
	ss.call = c
	ss.cmu.Unlock()
	s.log.Info("modemsim: PPP call: peer started", "peer", strings.Join(argv, " "), "pid", cmd.Process.Pid)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				c.mu.Lock()
				online := c.online
				c.mu.Unlock()
				if online { // in online command mode the peer's bytes are lost
					ss.writeRaw(string(buf[:n]))
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		<-copied
		err := cmd.Wait()
		close(c.done)
		c.ended(err)
	}()
	return nil
}

// ended puts the session back into command mode after the peer exited.
func (c *dataCall) ended(err error) {
	s, ss := c.s, c.ss
	ss.cmu.Lock()
	if ss.call == c {
		ss.call = nil
	}
	ss.cmu.Unlock()
	c.mu.Lock()
	if c.esc != nil {
		c.esc.Stop()
	}
	hungUp, dropped := c.hungUp, c.dropped
	c.mu.Unlock()
	s.log.Info("modemsim: PPP call ended", "peer_exit", fmt.Sprint(err), "hung_up", hungUp, "dropped", dropped)
	s.mu.Lock()
	if s.link == 1 && s.prof.ppp {
		s.setLink(0)
	}
	// A network drop on a modem whose link URC is NO CARRIER says it once.
	say := !hungUp && !(dropped && s.prof.linkURC(s, 0) == "NO CARRIER")
	s.mu.Unlock()
	if say {
		ss.writeRaw("\r\nNO CARRIER\r\n")
	}
	s.flush()
}

// stop ends the call (ATH, the session's end, a network drop).
func (c *dataCall) stop(hungUp, dropped bool) {
	c.mu.Lock()
	c.hungUp = c.hungUp || hungUp
	c.dropped = c.dropped || dropped
	c.mu.Unlock()
	c.stdin.Close()
	if c.cmd.Process != nil {
		c.cmd.Process.Kill()
	}
}

// feed takes bytes from the box while online and watches for "+++".
func (c *dataCall) feed(p []byte) {
	now := time.Now()
	c.mu.Lock()
	quiet := now.Sub(c.lastRx) >= c.guard
	for _, b := range p {
		if b == '+' && c.plus < 3 && (c.plus > 0 || quiet) {
			c.plus++
		} else {
			c.plus = 0
		}
		quiet = false
	}
	c.lastRx = now
	if c.esc != nil {
		c.esc.Stop()
		c.esc = nil
	}
	if c.plus == 3 {
		c.esc = time.AfterFunc(c.guard, c.escape)
	}
	c.mu.Unlock()
	c.stdin.Write(p)
}

func (c *dataCall) escape() {
	c.mu.Lock()
	if c.plus != 3 || !c.online || time.Since(c.lastRx) < c.guard {
		c.mu.Unlock()
		return
	}
	c.plus = 0
	c.online = false
	c.mu.Unlock()
	c.s.log.Info("modemsim: +++: online command mode")
	c.ss.writeRaw("\r\nOK\r\n")
}

func (c *dataCall) isOnline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online
}

// onlineCommand handles ATH and ATO in online command mode; false for
// other commands (answered as usual).
func (c *dataCall) onlineCommand(cmd string) bool {
	switch strings.ToUpper(strings.TrimSpace(cmd)) {
	case "ATO", "ATO0":
		c.mu.Lock()
		c.online = true
		c.lastRx = time.Now()
		c.mu.Unlock()
		c.ss.writeRaw("\r\nCONNECT 3600000\r\n")
		return true
	case "ATH", "ATH0":
		c.stop(true, false)
		<-c.done
		c.s.mu.Lock()
		c.s.cmds = append(c.s.cmds, cmd)
		if c.s.link == 1 {
			c.s.setLink(0)
		}
		c.s.mu.Unlock()
		c.ss.writeRaw("\r\nOK\r\n")
		c.s.flush()
		return true
	}
	return false
}

// dropCallsLocked ends the calls when the network drops the data link
// (s.mu held).
func (s *Sim) dropCallsLocked() {
	for ss := range s.sessions {
		ss.cmu.Lock()
		c := ss.call
		ss.cmu.Unlock()
		if c != nil {
			go c.stop(false, true)
		}
	}
}

// logWriter logs the peer's stderr line by line.
type logWriter struct {
	s   *Sim
	mu  sync.Mutex
	buf []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.s.log.Info("modemsim: PPP peer", "line", string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 {
		w.buf = w.buf[:0]
	}
	return len(p), nil
}
