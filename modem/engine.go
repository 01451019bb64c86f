package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"edgebox/internal/lazyregexp"
)

// Response is a command's answer without echo and final result.
type Response struct {
	Lines []string
	Final string // "OK", "CONNECT 115200", "+CME ERROR: 10" ...
}

// Line returns the first line starting with prefix (e.g. "+CSQ:"), with
// the prefix and following blanks removed.
func (r Response) Line(prefix string) (string, bool) {
	for _, l := range r.Lines {
		if rest, ok := cutPrefixFold(l, prefix); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// Text returns the response lines joined by newlines.
func (r Response) Text() string { return strings.Join(r.Lines, "\n") }

// URC is an unsolicited result code, or an event of the engine itself
// (Engine set, Line empty): "echo" means the modem echoes again after ATE0,
// so it rebooted; "settings-reset" follows a successful ATZ/AT&F.
type URC struct {
	Line string
	// PDU is the line following +CMT: / +CDS: (messages delivered directly).
	PDU string
	// Engine is "reopened", "reset", "slot-reset" (recovery worked),
	// "faulty" (recovery gave up), "removed" (the port's device left the
	// system: Err wraps ErrRemoved) or "replugged" (its port opened again
	// after that); Err says why.
	Engine string
	Err    error
	Time   time.Time
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Open opens the port; called again to reopen it during recovery.
	Open func() (io.ReadWriteCloser, error)
	// Timeout is the default command timeout (Command with timeout 0).
	Timeout time.Duration // default 5s
	// MaxTimeouts is the number of consecutive timeouts that start recovery.
	MaxTimeouts int // default 3
	// ResetCommand is the vendor reset (AT^RESET, AT*E2RESET, AT+CFUN=1,1).
	ResetCommand string
	// SlotReset toggles the slot's reset GPIO; nil skips that step.
	SlotReset func() error
	// ProbeTimeout bounds each "AT" sent while checking that recovery worked.
	ProbeTimeout time.Duration // default 2s
	// RebootWait is how long a modem may take to come back after a reset
	// (USB re-enumeration, firmware boot): opening and probing are retried
	// for this long.
	RebootWait time.Duration // default 30s
	// BootURCs are the lines a modem sends when it (re)starts; a command
	// pending when one arrives fails with ErrRebooted. Default: ^SYSSTART,
	// RDY, *EMRDY: 1.
	BootURCs []string
	// AnswerGuard is how long after a command's final answer the next
	// command waits before it is written (see answerGuard).
	AnswerGuard time.Duration // default answerGuard
	// Gone reports that the port's device node is gone (the USB card was
	// pulled out). Asked when a read fails: a gone port is reported as
	// removed at once (URC "removed", commands fail with ErrRemoved)
	// instead of being timed out and reset for half a minute. nil: a
	// failed port is always taken for a card that reboots.
	Gone   func() bool
	Logger *slog.Logger
}

// secretAT matches the arguments of commands that carry a PIN, PUK or
// password, wherever they are in a command line and however spaced.
// Compiled at first use: every service runs the one multi-call binary and
// so this package's initialiser, and only netctl redacts AT commands.
var secretAT = lazyregexp.New(secretATPattern())

func secretATPattern() string {
	var names []string
	for _, n := range []string{"+CPIN", "^CPIN", "+CPWD", "+CLCK", "*EIAAUW", "+CGAUTH", "+QICSGP", "^NDISDUP", "+CUSD",
		"+CSIM", "+CGLA", "$QCPDPP", "^AUTHDATA"} { // raw SIM APDUs carry PINs; vendors' APN credentials
		var b strings.Builder
		for i, r := range n {
			if i > 0 {
				b.WriteString(`\s*`)
			}
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
		names = append(names, b.String())
	}
	// The arguments run to the next ';' outside quotes: a password may
	// hold one (an unterminated quote runs to the end of the line).
	return `(?i)((?:` + strings.Join(names, "|") + `)\s*=)(?:"[^"]*"?|[^;"])*`
}

// RedactAT hides PINs, PUKs and passwords in a command line, for logs and
// error messages.
func RedactAT(cmd string) string {
	return secretAT.ReplaceAllString(cmd, "${1}<redacted>")
}

// logLine is a line the modem sent, fit for the debug log: secrets
// redacted, and an SMS PDU (a line of hex digits: the message's text,
// one-time codes included) only by its length, since read tokens and
// remote syslog see the logs (sixth review).
func logLine(line string) string {
	if len(line) >= 16 && strings.Trim(line, "0123456789abcdefABCDEF") == "" {
		return fmt.Sprintf("<PDU, %d hex digits>", len(line))
	}
	return RedactAT(line)
}

// commandName is "AT+CPIN" for `AT+CPIN="1234"`: safe to log.
func commandName(cmd string) string {
	if i := strings.IndexAny(cmd, "=?"); i > 0 {
		return cmd[:i]
	}
	return cmd
}

// ErrRebooted is returned for a command the modem will never answer
// because it announced a restart (^SYSSTART, RDY, *EMRDY: 1) meanwhile.
var ErrRebooted = errors.New("modem restarted during the command")

func (e *Engine) isBootURC(line string) bool {
	for _, b := range e.cfg.BootURCs {
		if strings.EqualFold(strings.TrimSpace(line), b) {
			return true
		}
	}
	return false
}

// Engine owns the serial port in one goroutine (Run). Commands are queued
// and run one at a time; unsolicited lines go to subscribers whenever they
// arrive, including in the middle of a response.
type Engine struct {
	cfg  EngineConfig
	log  *slog.Logger
	reqs chan *request
	ctl  chan suspendReq

	mu     sync.Mutex
	subs   map[int]chan URC
	nextID int
	faulty error
	closed bool
	lost   int // URCs dropped because a subscriber was full
	// suspended mirrors paused for callers: commands fail fast with
	// ErrSuspended instead of queueing behind a port nobody reads.
	suspended bool
	// rebootUntil: the owner reset the card (ExpectReboot); its port
	// vanishing until then is that reboot, not a removal.
	rebootUntil time.Time

	// state owned by the Run goroutine
	port      io.ReadWriteCloser
	lines     chan readEvent
	gen       int
	timeouts  int
	pendingPD *URC // +CMT: waiting for its PDU line
	echoOff   bool // ATE0 succeeded: an echo now means the modem reset
	// unsynced: a boot URC cut a command short; its late answer may still
	// come, so the next command first lets the modem fall quiet.
	unsynced bool
	// timedOut: the last command got no answer in time. A slow card may
	// still send it, after the next command was written, where it would
	// be read as that command's answer (and every later answer one
	// command late). The next command first resynchronises (syncPort).
	timedOut bool
	paused   bool // Suspend: port closed and not read until Resume
	// removed: the port's device is gone (Gone); commands fail with
	// ErrRemoved, no recovery runs, until the port opens again.
	removed bool
	// lastFinal is when the last command's final answer was read: the
	// next command is not written before lastFinal+AnswerGuard.
	lastFinal time.Time
	// repeats: this card was seen sending an answer twice; the guard is
	// then repeatGuard, as it will do so again.
	repeats bool
	// lastAnswer is the last command's info lines and the command (its
	// echo): what a copy of that answer consists of.
	lastAnswer []string
	running    chan struct{}
}

// suspendReq asks the Run goroutine to release (suspend) or reopen the port.
type suspendReq struct {
	suspend bool
	done    chan error
}

type request struct {
	ctx  context.Context
	sync bool // Sync, not a command
	// internal: the engine's own AT (sync, recovery probe), which must
	// not start a resynchronisation itself.
	internal bool
	cmd      string
	pdu      string // sent after the "> " prompt, followed by Ctrl-Z
	timeout  time.Duration
	resp     chan result
	// answered: the caller of a slow command gave up and got its error;
	// the engine still waits for the card's answer (slowcmds.go).
	answered bool
	// escape: write "+++" between guard times instead of cmd + CR
	// (dataescape.go).
	escape bool
}

type result struct {
	r   Response
	err error
}

type readEvent struct {
	gen    int
	line   string
	prompt bool
	err    error
}

// NewEngine returns an engine; call Run to start it.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxTimeouts <= 0 {
		cfg.MaxTimeouts = 3
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 2 * time.Second
	}
	if cfg.RebootWait <= 0 {
		cfg.RebootWait = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AnswerGuard <= 0 {
		cfg.AnswerGuard = answerGuard
	}
	if cfg.BootURCs == nil {
		cfg.BootURCs = []string{"^SYSSTART", "RDY", "*EMRDY: 1"}
	}
	return &Engine{
		cfg:     cfg,
		log:     cfg.Logger,
		reqs:    make(chan *request),
		ctl:     make(chan suspendReq),
		subs:    map[int]chan URC{},
		lines:   make(chan readEvent, 256),
		running: make(chan struct{}),
	}
}

// Subscribe returns a channel receiving every URC and engine event, and a
// function to unsubscribe. A subscriber that does not keep up loses URCs
// (counted in Lost); it never blocks the engine.
func (e *Engine) Subscribe(buf int) (<-chan URC, func()) {
	if buf <= 0 {
		buf = 64
	}
	ch := make(chan URC, buf)
	e.mu.Lock()
	id := e.nextID
	e.nextID++
	if e.closed {
		close(ch)
	} else {
		e.subs[id] = ch
	}
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		if c, ok := e.subs[id]; ok {
			delete(e.subs, id)
			close(c)
		}
		e.mu.Unlock()
	}
}

// Lost is the number of URCs dropped because a subscriber was full.
func (e *Engine) Lost() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lost
}

// Faulty returns the error recovery gave up with, or nil.
func (e *Engine) Faulty() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faulty
}

// ClearFault lets commands through again after the modem was replaced or
// power-cycled by other means.
func (e *Engine) ClearFault() {
	e.mu.Lock()
	e.faulty = nil
	e.mu.Unlock()
}

func (e *Engine) publish(u URC) {
	if u.Time.IsZero() {
		u.Time = time.Now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ch := range e.subs {
		select {
		case ch <- u:
		default:
			e.lost++
			e.log.Debug("URC dropped: subscriber full", "line", logLine(u.Line), "cap", cap(ch))
		}
	}
}

// Command sends cmd ("AT+CSQ") and waits for its final result. timeout 0
// means the configured default. A final result other than OK/CONNECT is
// returned as error (*CMEError, *cmsError, *resultError) together with the
// lines received before it.
func (e *Engine) Command(ctx context.Context, cmd string, timeout time.Duration) (Response, error) {
	return e.do(ctx, cmd, "", timeout)
}

// CommandPDU sends cmd (AT+CMGS=n), waits for the "> " prompt, sends pdu
// and Ctrl-Z, and waits for the final result.
func (e *Engine) CommandPDU(ctx context.Context, cmd, pdu string, timeout time.Duration) (Response, error) {
	if pdu == "" {
		return Response{}, errors.New("CommandPDU: empty PDU")
	}
	return e.do(ctx, cmd, pdu, timeout)
}

// Sync makes sure that the next answer read belongs to the next command:
// it lets the modem finish what it is sending (boot URCs such as
// *EMRDY: 1, the late answer to a command a reboot cut short), then sends
// AT until exactly one OK comes back with nothing after it. Identification
// runs after a Sync, so an unsolicited line is never taken for a reply.
func (e *Engine) Sync(ctx context.Context) error {
	if e.Suspended() {
		return fmt.Errorf("AT: %w", ErrSuspended)
	}
	if err := e.Faulty(); err != nil {
		return fmt.Errorf("AT: %w", err)
	}
	req := &request{ctx: ctx, sync: true, cmd: "AT", resp: make(chan result, 1)}
	select {
	case e.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.running:
		return ErrClosed
	}
	select {
	case res := <-req.resp:
		return res.err
	case <-e.running:
		select {
		case res := <-req.resp:
			return res.err
		default:
			return ErrClosed
		}
	}
}

// syncQuiet is the silence that ends settle: longer than a modem takes to
// send the rest of an answer it has started.
const syncQuiet = 300 * time.Millisecond

// settle reads until the modem has been quiet for syncQuiet (at most 3 s),
// publishing URCs; it returns how many other lines (stray answers, final
// results) it saw.
func (e *Engine) settle(ctx context.Context) int {
	stray := 0
	limit := time.NewTimer(3 * time.Second)
	defer limit.Stop()
	quiet := time.NewTimer(syncQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return stray
		case <-limit.C:
			return stray
		case <-quiet.C:
			return stray
		case ev := <-e.lines:
			if ev.gen != e.gen {
				continue
			}
			if ev.err != nil {
				e.portFailed(ev.err)
				continue
			}
			if ev.prompt {
				e.escapePrompt()
				stray++
				quiet.Reset(syncQuiet)
				continue
			}
			line, ok := clean(ev.line)
			if !ok {
				continue
			}
			if e.pendingPD != nil || isUnsolicited(line, nil) {
				// URCs may never stop (signal reports): only the
				// rest of an answer must be waited out.
				e.urcLine(line)
				continue
			}
			e.log.Debug("stray line dropped while synchronising", "line", logLine(line))
			stray++
			quiet.Reset(syncQuiet)
		}
	}
}

// syncPort is Sync on the Run goroutine.
func (e *Engine) syncPort(ctx context.Context, req *request) result {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		e.settle(req.ctx)
		res := e.exec(ctx, &request{ctx: req.ctx, cmd: "AT", internal: true, timeout: min(e.cfg.Timeout, e.cfg.ProbeTimeout)})
		if err := req.ctx.Err(); err != nil {
			return result{err: err}
		}
		if res.err != nil {
			// No answer (or a refusal): the caller decides whether to
			// try again; timeouts count towards recovery as usual.
			return result{err: res.err}
		}
		// A second answer now means the OK just read was an old one.
		if e.settle(req.ctx) == 0 {
			e.timedOut = false
			return result{}
		}
		last = errors.New("AT: the modem's answers are out of step")
	}
	return result{err: last}
}

func (e *Engine) do(ctx context.Context, cmd, pdu string, timeout time.Duration) (Response, error) {
	// One command per call: a CR, Ctrl-Z or ESC inside would let a caller
	// (or a config value) smuggle extra commands or end an SMS early.
	if cmd == "" || strings.ContainsAny(cmd, "\r\n\x1a\x1b") {
		return Response{}, fmt.Errorf("AT command %q: empty or contains control characters", cmd)
	}
	if pdu != "" && !isHex(pdu) {
		return Response{}, errors.New("SMS PDU: not hex")
	}
	if e.Suspended() {
		return Response{}, fmt.Errorf("%s: %w", commandName(cmd), ErrSuspended)
	}
	if err := e.Faulty(); err != nil {
		return Response{}, fmt.Errorf("%s: %w", cmd, err)
	}
	if timeout <= 0 {
		timeout = e.cfg.Timeout
	}
	// A network scan or attach takes minutes: given up on sooner, its
	// late answer and the busy port start recovery (slowcmds.go).
	timeout = max(timeout, MinTimeout(cmd))
	req := &request{ctx: ctx, cmd: cmd, pdu: pdu, timeout: timeout, resp: make(chan result, 1)}
	select {
	case e.reqs <- req:
	case <-ctx.Done():
		return Response{}, ctx.Err()
	case <-e.running:
		return Response{}, ErrClosed
	}
	select {
	case res := <-req.resp:
		return res.r, res.err
	case <-e.running:
		// Run ended; it answers every accepted request before returning.
		select {
		case res := <-req.resp:
			return res.r, res.err
		default:
			return Response{}, ErrClosed
		}
	}
}

// Run opens the port and serves commands until ctx ends. It returns the
// error that stopped it (ctx.Err() on a normal stop).
func (e *Engine) Run(ctx context.Context) error {
	defer func() {
		e.closePort()
		e.mu.Lock()
		e.closed = true
		for id, ch := range e.subs {
			close(ch)
			delete(e.subs, id)
		}
		e.mu.Unlock()
		close(e.running)
	}()
	if err := e.openPort(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-e.lines:
			e.idleEvent(ev)
		case req := <-e.reqs:
			if e.paused {
				// Queued just before Suspend: the port is pppd's now.
				req.resp <- result{err: fmt.Errorf("%s: %w", commandName(req.cmd), ErrSuspended)}
				continue
			}
			if req.sync {
				req.resp <- e.syncPort(ctx, req)
			} else {
				if res := e.exec(ctx, req); !req.answered {
					req.resp <- res
				}
			}
			if e.timeouts >= e.cfg.MaxTimeouts {
				e.recover(ctx)
			}
		case c := <-e.ctl:
			if c.suspend {
				e.suspend()
				c.done <- nil
			} else {
				c.done <- e.resume()
			}
		}
	}
}

// Suspend releases the port for another program (pppd dialling on the AT
// port of a single-port modem): it waits for the command in progress,
// closes the port and reads nothing until Resume. Meanwhile commands fail
// at once with ErrSuspended and no recovery runs. Suspending a suspended
// engine does nothing.
func (e *Engine) Suspend(ctx context.Context) error {
	return e.control(ctx, true)
}

// Resume reopens the port after Suspend and serves commands again. The
// other program may have reset the modem's settings (chat sends ATZ): the
// owner re-initialises it (Modem.Resume does). If the port cannot be
// opened the error is returned and the engine is resumed anyway: the next
// command reopens the port or starts recovery, as after a USB hiccup.
func (e *Engine) Resume(ctx context.Context) error {
	return e.control(ctx, false)
}

// Suspended reports whether the port is released (between Suspend and Resume).
func (e *Engine) Suspended() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.suspended
}

func (e *Engine) control(ctx context.Context, suspend bool) error {
	c := suspendReq{suspend: suspend, done: make(chan error, 1)}
	select {
	case e.ctl <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.running:
		return ErrClosed
	}
	// Run answers every accepted request before it looks at anything else.
	return <-c.done
}

func (e *Engine) suspend() {
	if e.paused {
		return
	}
	// Lines read before the release are the modem's to us: deliver them.
	e.drain()
	if e.pendingPD != nil {
		e.publish(*e.pendingPD)
		e.pendingPD = nil
	}
	e.closePort()
	// Whatever the old reader still reports (its read error after Close)
	// belongs to the released port: a new generation ignores it.
	e.gen++
	e.paused = true
	e.timeouts = 0
	e.mu.Lock()
	e.suspended = true
	e.mu.Unlock()
	e.log.Info("modem port released (suspended)")
}

func (e *Engine) resume() error {
	if !e.paused {
		return nil
	}
	e.paused = false
	// chat's ATZ (or a modem that reset meanwhile) turns echo back on:
	// an echo after Resume is not a sign of a reboot.
	e.echoOff = false
	e.timeouts = 0
	e.mu.Lock()
	e.suspended = false
	e.mu.Unlock()
	if err := e.openPort(); err != nil {
		e.log.Warn("modem port not reopened after suspend", "err", err)
		// Pulled out while pppd had it: say so now, not after recovery.
		if e.checkRemoved(err); e.removed {
			return fmt.Errorf("%w (%v)", ErrRemoved, err)
		}
		return err
	}
	e.log.Info("modem port reopened (resumed)")
	return nil
}

func (e *Engine) openPort() error {
	p, err := e.cfg.Open()
	if err != nil {
		return fmt.Errorf("open modem port: %w", err)
	}
	e.port = p
	e.gen++
	go readLines(p, e.gen, e.lines, e.running)
	return nil
}

func (e *Engine) closePort() {
	if e.port != nil {
		e.port.Close()
		e.port = nil
	}
}

// readLines splits the byte stream into lines (CR or LF terminated) and
// reports the SMS prompt "> ", which has no terminator.
func readLines(r io.Reader, gen int, out chan<- readEvent, stop <-chan struct{}) {
	buf := make([]byte, 512)
	var cur []byte
	send := func(ev readEvent) bool {
		select {
		case out <- ev:
			return true
		case <-stop: // the engine is gone; its Close ends our Read too
			return false
		}
	}
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			switch b {
			case '\r', '\n':
				if len(cur) > 0 {
					ev := readEvent{gen: gen, line: string(cur)}
					// the prompt followed by a line in the same read
					// (a URC right after it) is still the prompt
					if strings.TrimSpace(ev.line) == ">" {
						ev = readEvent{gen: gen, prompt: true}
					}
					if !send(ev) {
						return
					}
					cur = cur[:0]
				}
			default:
				cur = append(cur, b)
				if len(cur) >= 4096 {
					if !send(readEvent{gen: gen, line: string(cur)}) {
						return
					}
					cur = cur[:0]
				}
			}
		}
		if s := strings.TrimSpace(string(cur)); s == ">" {
			if !send(readEvent{gen: gen, prompt: true}) {
				return
			}
			cur = cur[:0]
		}
		if err != nil {
			send(readEvent{gen: gen, err: err})
			return
		}
		if n == 0 {
			// Some serial drivers return 0, nil on a read timeout.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// clean drops noise: lines with control or non-ASCII bytes are not AT.
func clean(line string) (string, bool) {
	// NULs pad some cards' answers (after a reboot, around a final
	// result): never part of AT text, so taken out rather than the
	// line dropped with them (an "OK\x00" never ended its command).
	line = strings.ReplaceAll(line, "\x00", "")
	// Line noise at its ends (a 0xFF or a control byte the USB link or
	// a reboot left before or after the text) is cut off; inside, it
	// still makes the line noise.
	line = strings.TrimFunc(line, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == utf8.RuneError || unicode.IsSpace(r)
	})
	if line == "" {
		return "", false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return "", false
		}
	}
	return line, true
}

func (e *Engine) idleEvent(ev readEvent) { e.lineWhileIdle(ev, e.inGuard()) }

// lineWhileIdle handles a line read with no command out; afterAnswer says
// it came right behind a command's final answer (within AnswerGuard).
func (e *Engine) lineWhileIdle(ev readEvent, afterAnswer bool) {
	if ev.gen != e.gen {
		return
	}
	if ev.err != nil {
		e.portFailed(ev.err)
		return
	}
	if ev.prompt {
		e.escapePrompt()
		return
	}
	line, ok := clean(ev.line)
	if !ok {
		e.log.Debug("modem noise dropped", "bytes", len(ev.line))
		return
	}
	if strayAnswer(line) && e.pendingPD == nil {
		// OK or an error with no command out is an answer out of step
		// (sent twice, or late): the next command first settles. NO
		// CARRIER, BUSY, CONNECT and the like are call progress: URCs.
		e.log.Debug("stray final result while idle", "line", logLine(line))
		e.unsynced = true
		e.repeats = e.repeats || afterAnswer
		return
	}
	if e.pendingPD == nil && afterAnswer && !isUnsolicited(line, nil) && e.copiedLine(line) {
		// A line of the last answer (or its command's echo) right
		// behind it is that answer again: its info lines come before
		// its copied final. Other lines stay URCs, known or not; a
		// known URC that reads like the answer (^HCSQ) is published
		// (its copy's final still marks the port out of step).
		e.log.Debug("stray line right after an answer", "line", logLine(line))
		e.unsynced = true
		e.repeats = true
		return
	}
	e.urcLine(line)
}

// strayAnswer says whether line is a final result only a command gets.
func strayAnswer(line string) bool {
	l := strings.ToUpper(strings.TrimSpace(line))
	_, cme := errorLine(l, "+CME ERROR")
	_, cms := errorLine(l, "+CMS ERROR")
	return l == "OK" || l == "ERROR" || cme || cms
}

// urcLine publishes line as URC, pairing +CMT:/+CDS: with their PDU line.
func (e *Engine) urcLine(line string) {
	if e.pendingPD != nil {
		u := *e.pendingPD
		e.pendingPD = nil
		if isHex(line) {
			u.PDU = line
			e.publish(u)
			return
		}
		e.publish(u)
	}
	if hasPrefixFold(line, "+CMT:") || hasPrefixFold(line, "+CDS:") {
		e.pendingPD = &URC{Line: line, Time: time.Now()}
		return
	}
	e.publish(URC{Line: line})
}

// portFailed handles a read error. A card that reboots comes back: its
// port is reopened by recovery when the next command times out. A port
// whose device node is gone (Gone) was pulled out: that is said at once,
// and nothing is reset (removed.go).
func (e *Engine) portFailed(err error) {
	live := e.port != nil // else we closed it ourselves
	e.log.Warn("modem port read failed", "err", err)
	e.closePort()
	if live {
		e.checkRemoved(err)
	}
}

func (e *Engine) write(s string) error {
	if e.port == nil {
		if err := e.openPort(); err != nil {
			// Its node gone since the read failed: removed, said
			// now (not as the command's own failure).
			if e.checkRemoved(err); e.removed {
				return fmt.Errorf("%w (%v)", ErrRemoved, err)
			}
			return err
		}
	}
	_, err := io.WriteString(e.port, s)
	return err
}

// exec runs one command on the owner goroutine.
func (e *Engine) exec(ctx context.Context, req *request) result {
	// Lines already queued are unsolicited (or late answers to a command
	// that timed out): never let them answer this command.
	e.drain()
	if e.removed && !e.replugged() {
		return result{err: fmt.Errorf("%s: %w", commandName(req.cmd), ErrRemoved)}
	}
	e.guard(req.ctx)
	if e.unsynced {
		e.unsynced = false
		e.settle(req.ctx)
	}
	if e.timedOut && !req.internal {
		// The sync's own AT answering says nothing about the command
		// that timed out: its count towards recovery stays.
		e.timedOut = false
		n := e.timeouts
		if res := e.syncPort(ctx, req); res.err != nil {
			return result{err: fmt.Errorf("%s: not sent, the modem's answers are out of step: %w", RedactAT(req.cmd), res.err)}
		}
		e.timeouts = n
	}
	if err := req.ctx.Err(); err != nil {
		return result{err: err}
	}
	// Arguments may be a PIN or APN password: log the command name only.
	e.log.Debug("tx", "cmd", commandName(req.cmd))
	if e.resetCommand(req.cmd) {
		// The card restarts: its port vanishing is no removal.
		e.ExpectReboot(e.cfg.RebootWait)
	}
	out := req.cmd + "\r"
	if req.escape {
		// Silence before; nothing after (not even CR) until the card
		// answers once its guard time passed.
		sleepCtx(req.ctx, escapeGuard)
		out = "+++"
	}
	if err := e.write(out); err != nil {
		e.closePort()
		if !e.removed {
			e.timeouts++
		}
		return result{err: fmt.Errorf("%s: write: %w", RedactAT(req.cmd), err)}
	}
	timer := time.NewTimer(req.timeout)
	defer timer.Stop()
	owned := ownedPrefixes(req.cmd)
	var resp Response
	echoSeen, pduSent := false, false
	gaveUp := req.ctx.Done()
	for {
		select {
		case <-ctx.Done():
			return result{r: resp, err: ErrClosed}
		case <-gaveUp:
			if req.resp != nil && MinTimeout(req.cmd) > 0 {
				// A network scan or attach goes on in the card, the
				// port busy: the caller gets its error now, and the
				// engine waits out the answer (or the command's
				// timeout), so nothing is sent into a busy card and
				// no recovery resets it mid-scan.
				req.answered = true
				req.resp <- result{r: resp, err: req.ctx.Err()}
				gaveUp = nil
				continue
			}
			// The caller gave up, the card did not: its answer may come
			// after the next command was written and be read as that
			// one's. The next command resynchronises first, as after a
			// timeout (which this is not: no count towards recovery).
			e.timedOut = true
			return result{r: resp, err: req.ctx.Err()}
		case <-timer.C:
			e.timeouts++
			e.timedOut = true
			return result{r: resp, err: &timeoutError{Command: RedactAT(req.cmd), After: req.timeout}}
		case ev := <-e.lines:
			if ev.gen != e.gen {
				continue
			}
			if ev.err != nil {
				// The port went from under the command (the card
				// crashed or reboots: it re-enumerates on USB). No
				// answer can come on it: fail now rather than wait out
				// the timeout (minutes for a network scan). It counts
				// as a timeout, so recovery, whose reopen waits for
				// the port, follows if it persists.
				e.portFailed(ev.err)
				if e.removed {
					return result{r: resp, err: fmt.Errorf("%s: %w", commandName(req.cmd), ErrRemoved)}
				}
				e.timeouts++
				e.unsynced = true
				return result{r: resp, err: fmt.Errorf("%s: the port failed (%v): %w", RedactAT(req.cmd), ev.err, ErrRebooted)}
			}
			if ev.prompt {
				if req.pdu != "" && !pduSent {
					pduSent = true
					if err := e.write(req.pdu + "\x1a"); err != nil {
						return result{r: resp, err: fmt.Errorf("%s: write PDU: %w", RedactAT(req.cmd), err)}
					}
					continue
				}
				if req.pdu == "" {
					// Not this command's: an abandoned SMS's.
					e.escapePrompt()
				}
				continue
			}
			line, ok := clean(ev.line)
			if !ok {
				continue
			}
			e.log.Debug("rx", "cmd", commandName(req.cmd), "line", logLine(line))
			if !echoSeen && len(resp.Lines) == 0 && strings.EqualFold(line, req.cmd) {
				echoSeen = true
				if e.echoOff {
					// Echo came back by itself: the modem rebooted and
					// lost its settings. Tell the owner to re-initialise.
					e.echoOff = false
					e.publish(URC{Engine: "echo"})
				}
				continue
			}
			if pduSent && line == req.pdu {
				continue // echo of the PDU
			}
			if final, err := FinalResult(line); final {
				e.timeouts = 0
				e.lastFinal = time.Now()
				e.lastAnswer = append(resp.Lines[:len(resp.Lines):len(resp.Lines)], req.cmd)
				resp.Final = line
				if err == nil {
					switch strings.ToUpper(strings.TrimSpace(req.cmd)) {
					case "ATE0":
						e.echoOff = true
					case "ATE1":
						e.echoOff = false
					case "ATZ", "ATZ0", "AT&F", "AT&F0":
						// Factory settings: echo on, URCs and error codes
						// off. Tell the owner to set them up again.
						e.echoOff = false
						e.publish(URC{Engine: "settings-reset"})
					}
				}
				if err != nil {
					return result{r: resp, err: fmt.Errorf("%s: %w", RedactAT(req.cmd), err)}
				}
				if wantsData(req.cmd, owned, resp) {
					e.lateData(ctx, strings.TrimSpace(req.cmd), owned, &resp)
				}
				return result{r: resp}
			}
			if e.pendingPD != nil || isUnsolicited(line, owned) {
				e.urcLine(line)
				if e.isBootURC(line) {
					// The modem restarted: it will never answer this
					// command. Fail it now rather than time out; an
					// answer it sent anyway must not answer the next.
					e.unsynced = true
					return result{r: resp, err: fmt.Errorf("%s: %w", RedactAT(req.cmd), ErrRebooted)}
				}
				continue
			}
			resp.Lines = append(resp.Lines, line)
		}
	}
}

// escapePrompt answers a "> " prompt no command of this engine waits for
// (its SMS's caller gave up before the card got to it) with ESC, which
// cancels the message (27.005): else the card types what is sent next
// (the resynchronising AT, the next command) into the message and answers
// nothing. The card's OK to the ESC is a stray answer: resynchronise.
func (e *Engine) escapePrompt() {
	e.log.Debug("SMS prompt nobody waits for: cancelled with ESC")
	if err := e.write("\x1b"); err != nil {
		e.log.Warn("modem write ESC", "err", err)
	}
	e.unsynced = true
}

func (e *Engine) drain() {
	for {
		select {
		case ev := <-e.lines:
			e.idleEvent(ev)
		default:
			return
		}
	}
}

// recover runs the escalation: reopen the port, vendor reset, slot reset.
// Each step is checked with "AT"; the first that works ends recovery. If
// none works the engine is marked faulty and commands fail fast.
func (e *Engine) recover(ctx context.Context) {
	e.timeouts = 0
	type step struct {
		name string
		do   func() error
		wait bool // the modem reboots: allow RebootWait
	}
	steps := []step{{name: "reopened", do: func() error { return nil }}}
	if e.cfg.ResetCommand != "" {
		steps = append(steps, step{name: "reset", wait: true, do: func() error {
			if e.port == nil {
				if err := e.openPort(); err != nil {
					return err
				}
			}
			return e.write(e.cfg.ResetCommand + "\r")
		}})
	}
	if e.cfg.SlotReset != nil {
		steps = append(steps, step{name: "slot-reset", wait: true, do: e.cfg.SlotReset})
	}
	var tried []string
	for _, s := range steps {
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("modem not answering, recovering", "step", s.name)
		if s.wait {
			e.ExpectReboot(e.cfg.RebootWait)
		}
		err := s.do()
		e.closePort()
		if err == nil {
			err = e.reopenAndProbe(ctx, s.wait)
		}
		if e.removed {
			// Pulled out meanwhile: nothing to reset.
			e.timeouts = 0
			return
		}
		if err == nil {
			e.log.Info("modem answers again", "step", s.name)
			e.publish(URC{Engine: s.name})
			return
		}
		tried = append(tried, s.name+": "+err.Error())
	}
	fault := fmt.Errorf("%w: no answer after %s", ErrFaulty, strings.Join(tried, "; "))
	e.mu.Lock()
	e.faulty = fault
	e.mu.Unlock()
	e.log.Error("modem faulty", "err", fault)
	e.publish(URC{Engine: "faulty", Err: fault})
}

func (e *Engine) reopenAndProbe(ctx context.Context, reboot bool) error {
	start := time.Now()
	deadline := start.Add(e.cfg.ProbeTimeout * 2)
	if reboot {
		deadline = time.Now().Add(e.cfg.RebootWait)
	}
	var last error
	for attempt := 0; attempt < 1000; attempt++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.removed {
			return ErrRemoved
		}
		if e.port == nil {
			if err := e.openPort(); err != nil {
				last = err
				if e.cfg.Gone != nil && e.cfg.Gone() {
					// Pulled out while hung: no reset brings it back
					// (a reset's reboot is expected, not removal).
					if e.checkRemoved(err); e.removed {
						return ErrRemoved
					}
				}
				// The port is gone: the card re-enumerates on USB, as
				// in a reboot of its own. Give it the reboot's time
				// before calling it faulty.
				if d := start.Add(e.cfg.RebootWait); d.After(deadline) {
					deadline = d
				}
				if time.Now().After(deadline) {
					return last
				}
				sleepCtx(ctx, 200*time.Millisecond)
				continue
			}
		}
		res := e.exec(ctx, &request{ctx: ctx, cmd: "AT", internal: true, timeout: e.cfg.ProbeTimeout})
		if res.err == nil {
			e.timeouts = 0
			return nil
		}
		last = res.err
		if time.Now().After(deadline) {
			break
		}
		if !errors.Is(res.err, ErrTimeout) {
			sleepCtx(ctx, 200*time.Millisecond)
		}
	}
	e.timeouts = 0
	return last
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
