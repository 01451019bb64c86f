// Package modemsim is a simulated 3G/LTE modem speaking AT like the real
// ones edgebox supports (Huawei MU609/ME909, Ericsson F5521gw/Dell DW5550,
// Quectel EC25, Sierra MC8775, generic 3GPP). It serves AT sessions on a
// pty or on stream connections (QEMU's -chardev socket), keeps its state
// (SIM, registration, data connection, SMS storage) across sessions, and
// lets tests inject faults and events through its Go API or a control
// socket.
package modemsim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config configures a simulated modem.
type Config struct {
	Profile string // see Profiles()
	// PIN, when set, enables the SIM PIN: the SIM asks for it after every boot.
	PIN   string
	PUK   string // default "12345678"
	IMEI  string
	IMSI  string
	ICCID string
	// Number is what AT+CNUM answers; empty: the SIM stores none.
	Number   string
	Operator string
	// Address, Gateway and DNS are what the modem hands out (^DHCP,
	// *E2IPCFG) when connected.
	Address netip.Prefix
	Gateway netip.Addr
	DNS     []netip.Addr
	// Carrier is called with true/false as the data connection goes up
	// and down (cmd/modemsim sets the netdev's link with it).
	Carrier func(up bool) error
	// BootCFUN, when set, replaces the profile's +CFUN state at power-on
	// (Ericsson cards boot in 4, most others in 1). The state is kept
	// while the modem stays powered, across AT sessions, as a real card
	// keeps it while the box runs.
	BootCFUN *int
	// PINReadyLag is how long +CPIN? still says SIM PIN after the card
	// accepted the PIN (a PIN sent again meanwhile gets +CME ERROR: 3).
	// Default: the profile's (DW5550/F5521gw about 1.5s, others none);
	// negative: none.
	PINReadyLag time.Duration
	// AcceptAPN, when set, is the only APN the network takes: a data
	// connection for another is refused with cause 27 (missing or unknown
	// APN) in the vendor's indication.
	AcceptAPN string
	// APNLogin, when set ("user:password"), is the login the network
	// requires for the APN: a data connection with another (or none) is
	// refused with cause 29 (user authentication failed).
	APNLogin string
	// BootURCOnFirstCommand holds the power-on boot URCs (*EMRDY: 1,
	// RDY ...) until the first command arrives and sends them just before
	// its answer, as a card still booting when the box opens its port
	// does: the boot line comes first, then the reply.
	BootURCOnFirstCommand bool
	// AnswerDelay is how long the modem takes to answer each command
	// (real cards take tens of milliseconds). Default 0.
	AnswerDelay time.Duration
	// BootTime is how long the modem ignores input after a reset (and how
	// long an Ericsson takes to say *EMRDY: 1). Default 200ms.
	BootTime time.Duration
	// ConnectDelay is the time between the connect command's OK and the
	// link-up URC. Default 50ms.
	ConnectDelay time.Duration
	// SMSCapacity is the number of SIM storage slots. Default 20.
	SMSCapacity int
	// PeriodicURC, when set, makes the modem send its vendor's periodic
	// signal URC (^RSSI/^HCSQ, +QIND "csq", *ERINFO, +CIEV) at this
	// interval, as real modems do unless told not to. Stop it with Close.
	PeriodicURC time.Duration
	// PPPPeer, when set, is the carrier side of a PPP call (argv, e.g.
	// pppd notty nodetach ... or ip netns exec NS pppd ...): after
	// ATD*99...# answers CONNECT on a PPP modem (sierra-mc8775, generic)
	// it runs with stdin/stdout wired to the AT session's byte stream
	// until it exits or the call is hung up (see ppp.go).
	PPPPeer []string
	// EscapeGuard is the silence needed before and after "+++" in a
	// call. Default 1s.
	EscapeGuard time.Duration
	Logger      *slog.Logger
}

// Sent is a message the box sent through the simulator.
type Sent struct {
	To  string
	PDU string
}

// Sim is one simulated modem. All methods are safe for concurrent use.
type Sim struct {
	cfg  Config
	prof *profile
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[*session]bool
	cmds     []string
	rng      *rand.Rand

	// modem state, reset by boot()
	echo        bool
	cmee        int
	cfun        int
	booting     bool
	bootGen     int
	ready       bool // Ericsson *EMRDY
	cregN       [3]int
	e2nap       bool
	cmgf        int
	cscs        string // character set of string parameters: GSM, IRA or UCS2
	cnmiMT      int
	link        int // 0 down, 1 up, 2 connecting
	pdp         map[int]string
	apn         string
	apnUser     string
	apnPass     string
	usbnet      int
	hang        bool
	dead        bool
	simPresent  bool
	pinEnabled  bool
	pin, puk    string
	simUnlocked bool
	pinLagUntil time.Time // +CPIN? lags behind an accepted PIN until then
	heldBoot    bool      // BootURCOnFirstCommand: boot URCs not sent yet
	pinLeft     int
	pukLeft     int
	regOverride int // -1 none, else 27.007 stat
	lastReg     int
	sms         map[int]storedSMS
	sent        []Sent
	mr          int
	concatRef   int
	interleave  []string
	closed      bool
	ticks       int
	carrierUp   bool
	carrierOps  []bool
	dialed      bool        // a dial answered CONNECT: start the PPP call
	voice       *voiceSim   // calls, voice port, status reports (voice.go)
	faults      answerFault // late, doubled or failed answers (faults.go)
	round4      round4Fault // slow commands (round4.go)
	round6      round6Fault // quiet cards (round6.go)
	cards       cardFault   // wording, line ends, SIM swap (cardfaults.go)
}

type storedSMS struct {
	stat int // 0 unread, 1 read
	pdu  string
}

// New returns a powered-on simulated modem.
func New(cfg Config) (*Sim, error) {
	p, ok := profiles[cfg.Profile]
	if !ok {
		return nil, fmt.Errorf("modemsim: unknown profile %q (have %s)", cfg.Profile, strings.Join(Profiles(), ", "))
	}
	if cfg.IMEI == "" {
		cfg.IMEI = "867223020123456"
	}
	if cfg.IMSI == "" {
		cfg.IMSI = "262011234567890"
	}
	if cfg.ICCID == "" {
		cfg.ICCID = "89490200001234567890"
	}
	if cfg.Operator == "" {
		cfg.Operator = "Telekom.de"
	}
	if cfg.PUK == "" {
		cfg.PUK = "12345678"
	}
	if !cfg.Address.IsValid() {
		cfg.Address = netip.MustParsePrefix("10.8.219.204/29")
	}
	if !cfg.Gateway.IsValid() {
		cfg.Gateway = netip.MustParseAddr("10.8.219.201")
	}
	if cfg.DNS == nil {
		cfg.DNS = []netip.Addr{netip.MustParseAddr("10.130.24.14"), netip.MustParseAddr("10.130.24.15")}
	}
	if cfg.BootTime <= 0 {
		cfg.BootTime = 200 * time.Millisecond
	}
	if cfg.ConnectDelay <= 0 {
		cfg.ConnectDelay = 50 * time.Millisecond
	}
	if cfg.SMSCapacity <= 0 {
		cfg.SMSCapacity = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		cfg: cfg, prof: p, log: cfg.Logger,
		sessions:    map[*session]bool{},
		rng:         rand.New(rand.NewPCG(1, 2)),
		simPresent:  true,
		pinEnabled:  cfg.PIN != "",
		pin:         cfg.PIN,
		puk:         cfg.PUK,
		pinLeft:     3,
		pukLeft:     10,
		regOverride: -1,
		sms:         map[int]storedSMS{},
		mr:          1,
		concatRef:   1,
	}
	s.mu.Lock()
	s.powerOn(false)
	s.mu.Unlock()
	s.flush()
	if cfg.PeriodicURC > 0 {
		time.AfterFunc(cfg.PeriodicURC, s.tick)
	}
	return s, nil
}

// Close stops the periodic URCs. Sessions end with their contexts.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

func (s *Sim) tick() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.ticks++
	if !s.booting && regOK(s.regStat()) {
		s.urcLocked(s.prof.periodic(s.ticks))
	}
	s.mu.Unlock()
	s.flush()
	time.AfterFunc(s.cfg.PeriodicURC, s.tick)
}

// Profiles lists the simulated modem profiles.
func Profiles() []string {
	var out []string
	for n := range profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// powerOn resets the volatile state like a real boot. With delay the
// modem is deaf for BootTime and then sends its boot URCs.
func (s *Sim) powerOn(delay bool) {
	s.echo = true
	s.cmee = 0
	s.round6.cfunStuck = false // a restart ends it
	s.radioCycledLocked()
	s.cfun = s.prof.bootCFUN
	if s.cfg.BootCFUN != nil {
		s.cfun = *s.cfg.BootCFUN
	}
	s.cregN = [3]int{}
	s.e2nap = false
	s.cmgf = 0
	s.cscs = "GSM"
	s.cnmiMT = 0
	s.setLink(0)
	s.pdp = map[int]string{}
	s.apn, s.apnUser, s.apnPass = "", "", ""
	s.hang = false
	s.simUnlocked = false
	s.interleave = nil
	s.lastReg = s.regStat()
	s.bootGen++
	gen := s.bootGen
	s.ready = false
	finish := func() {
		s.booting = false
		s.ready = true
		for _, u := range s.prof.bootURCs(s) {
			if s.cards.quietBoot {
				break // lost in the reboot (cardfaults.go)
			}
			s.urcLocked(u)
		}
		s.cards.quietBoot = false
		s.lastReg = s.regStat()
	}
	if !delay {
		// Power-on at start: ready, but an Ericsson still says *EMRDY: 1
		// a moment later like a real card does.
		s.booting = false
		s.ready = s.prof.vendor != "ericsson"
		if s.cfg.BootURCOnFirstCommand {
			s.heldBoot = true
			return
		}
		if s.prof.vendor == "ericsson" {
			time.AfterFunc(s.cfg.BootTime, func() {
				s.mu.Lock()
				if s.bootGen == gen {
					finish()
				}
				s.mu.Unlock()
				s.flush()
			})
		}
		return
	}
	s.booting = true
	time.AfterFunc(s.cfg.BootTime, func() {
		s.mu.Lock()
		if s.bootGen == gen {
			finish()
		}
		s.mu.Unlock()
		s.flush()
	})
}

// ---- Control API (faults and events) ----

// Hang makes the modem stop answering (true) or answer again (false).
// Only a power cycle or Hang(false) ends it; a vendor reset command is not
// heard while hung.
func (s *Sim) Hang(on bool) {
	s.mu.Lock()
	s.hang = on
	s.mu.Unlock()
}

// Dead makes the modem never answer, even after a power cycle (dead on
// arrival).
func (s *Sim) Dead(on bool) {
	s.mu.Lock()
	s.dead = on
	s.mu.Unlock()
}

// Garbage writes n random non-AT bytes to every session.
func (s *Sim) Garbage(n int) {
	s.mu.Lock()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0x80 + s.rng.IntN(0x80))
		if i%7 == 3 {
			b[i] = 0
		}
	}
	sess := s.sessionList()
	s.mu.Unlock()
	for _, ss := range sess {
		ss.writeRaw(string(b))
	}
}

// RemoveSIM pulls the SIM: registration and data are lost.
func (s *Sim) RemoveSIM() {
	s.mu.Lock()
	s.simPresent = false
	s.simUnlocked = false
	s.setLink(0)
	s.urcLocked(s.prof.simRemovedURC)
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
}

// InsertSIM puts the SIM back (it asks for the PIN if enabled).
func (s *Sim) InsertSIM() {
	s.mu.Lock()
	s.simPresent = true
	if s.pinEnabled {
		s.urcLocked("+CPIN: SIM PIN")
	} else {
		s.urcLocked("+CPIN: READY")
	}
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
}

// RequirePIN enables the SIM PIN and locks the SIM as after a boot.
func (s *Sim) RequirePIN(pin string) {
	s.mu.Lock()
	s.pinEnabled, s.pin, s.simUnlocked = true, pin, false
	s.pinLeft = 3
	s.setLink(0)
	s.urcLocked("+CPIN: SIM PIN")
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
}

// SetRegistration forces a 27.007 registration state: "denied",
// "searching", "roaming", "none" or "" / "home" for normal.
func (s *Sim) SetRegistration(state string) error {
	m := map[string]int{"": -1, "home": -1, "normal": -1, "none": 0, "searching": 2, "denied": 3, "roaming": 5}
	v, ok := m[state]
	if !ok {
		return fmt.Errorf("registration state %q: want home, roaming, searching, denied or none", state)
	}
	s.mu.Lock()
	if !s.keepDenialLocked(v) {
		s.regOverride = v
	}
	if !regOK(s.regStat()) {
		s.dropLocked()
	}
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
	return nil
}

// DropData makes the network drop the data connection.
func (s *Sim) DropData() {
	s.mu.Lock()
	s.dropLocked()
	s.mu.Unlock()
	s.flush()
}

func (s *Sim) dropLocked() {
	if s.link == 0 {
		return
	}
	s.setLink(0)
	if u := s.prof.linkURC(s, 0); u != "" {
		s.urcLocked(u)
	}
}

// Reboot restarts the modem as after a crash or reset command.
func (s *Sim) Reboot() {
	s.mu.Lock()
	s.powerOn(true)
	s.mu.Unlock()
	s.flush()
}

// PowerCycle is what the slot reset GPIO does: it also ends a hang (but
// not a dead modem).
func (s *Sim) PowerCycle() { s.Reboot() }

// URC sends line to every session as an unsolicited result.
func (s *Sim) URC(line string) {
	s.mu.Lock()
	s.urcLocked(line)
	s.mu.Unlock()
	s.flush()
}

// URCInNextResponse makes the next response with data lines carry line
// between its lines and again right after its final result.
func (s *Sim) URCInNextResponse(line string) {
	s.mu.Lock()
	s.interleave = append(s.interleave, line)
	s.mu.Unlock()
}

// DeliverSMS makes a message arrive from number (split into
// concatenated parts when long). It returns the SIM indexes used.
func (s *Sim) DeliverSMS(from, text string) ([]int, error) {
	s.mu.Lock()
	ref := s.concatRef
	s.concatRef++
	s.mu.Unlock()
	pdus, err := encodeDeliver(from, text, time.Now(), ref)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var idx []int
	for _, p := range pdus {
		i, err := s.storeSMSLocked(p)
		if err != nil {
			s.mu.Unlock()
			s.flush()
			return idx, err
		}
		idx = append(idx, i)
	}
	s.mu.Unlock()
	s.flush()
	return idx, nil
}

func (s *Sim) storeSMSLocked(pdu string) (int, error) {
	if !s.simPresent {
		return 0, fmt.Errorf("no SIM")
	}
	if s.cnmiMT == 2 {
		// Direct delivery: +CMT, not stored.
		s.urcLocked(fmt.Sprintf("+CMT: ,%d\r\n%s", tpduLen(pdu), pdu))
		return -1, nil
	}
	for i := 0; i < s.cfg.SMSCapacity; i++ {
		if _, used := s.sms[i]; !used {
			s.sms[i] = storedSMS{stat: 0, pdu: pdu}
			if s.cnmiMT == 1 {
				s.urcLocked(fmt.Sprintf("+CMTI: \"SM\",%d", i))
			}
			return i, nil
		}
	}
	return 0, fmt.Errorf("SIM SMS storage full")
}

// State is a snapshot for tests and the control socket.
type State struct {
	Profile    string         `json:"profile"`
	Echo       bool           `json:"echo"`
	CFUN       int            `json:"cfun"`
	Link       int            `json:"link"`
	Carrier    bool           `json:"carrier"`
	APN        string         `json:"apn"`
	SIMPresent bool           `json:"sim_present"`
	SIMLocked  bool           `json:"sim_locked"`
	PINLeft    int            `json:"pin_left"`
	Reg        int            `json:"reg"`
	Hang       bool           `json:"hang"`
	Booting    bool           `json:"booting"`
	SMS        map[int]string `json:"sms"`
	Sent       []Sent         `json:"sent"`
	Sessions   int            `json:"sessions"`
}

// State returns the current state.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{
		Profile: s.prof.name, Echo: s.echo, CFUN: s.cfun, Link: s.link, Carrier: s.carrierUp,
		APN: s.apn, SIMPresent: s.simPresent, SIMLocked: s.simLocked(), PINLeft: s.pinLeft,
		Reg: s.regStat(), Hang: s.hang, Booting: s.booting, SMS: map[int]string{},
		Sent: slices.Clone(s.sent), Sessions: len(s.sessions),
	}
	for i, m := range s.sms {
		st.SMS[i] = m.pdu
	}
	return st
}

// Commands returns every command line received so far.
func (s *Sim) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cmds)
}

// CountCommand counts received command lines starting with prefix.
func (s *Sim) CountCommand(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.cmds {
		if strings.HasPrefix(strings.ToUpper(c), strings.ToUpper(prefix)) {
			n++
		}
	}
	return n
}

// ---- internals ----

func (s *Sim) simLocked() bool {
	return s.simPresent && s.pinEnabled && !s.simUnlocked
}

func (s *Sim) simReady() bool { return s.simPresent && !s.simLocked() }

func regOK(stat int) bool { return stat == 1 || stat == 5 }

// regStat is the 27.007 <stat> the modem would report now.
func (s *Sim) regStat() int {
	if s.cfun != 1 || !s.simReady() || s.booting {
		return 0
	}
	if s.regOverride >= 0 {
		return s.regOverride
	}
	return 1
}

// regChangedLocked sends +CREG/+CGREG/+CEREG URCs when the state changed.
func (s *Sim) regChangedLocked() {
	st := s.regStat()
	if st == s.lastReg {
		return
	}
	s.lastReg = st
	if s.round6.noRegURC {
		return
	}
	for i, name := range []string{"+CREG", "+CGREG", "+CEREG"} {
		switch s.cregN[i] {
		case 1:
			s.urcLocked(fmt.Sprintf("%s: %d", name, st))
		case 2, 3:
			if regOK(st) {
				s.urcLocked(fmt.Sprintf("%s: %d,\"00C3\",\"0000A13F\",%d", name, st, s.prof.act))
			} else {
				s.urcLocked(fmt.Sprintf("%s: %d", name, st))
			}
		}
	}
}

func (s *Sim) setLink(v int) {
	if v != 1 && s.link == 1 {
		s.dropCallsLocked()
	}
	s.link = v
	up := v == 1
	if up != s.carrierUp {
		s.carrierUp = up
		s.carrierOps = append(s.carrierOps, up)
	}
}

// urcLocked queues line for every session; flush writes it.
func (s *Sim) urcLocked(line string) {
	if line == "" || s.hang || s.dead {
		return
	}
	line = s.cardURCLocked(line)
	for ss := range s.sessions {
		ss.queue = append(ss.queue, line)
	}
}

func (s *Sim) sessionList() []*session {
	out := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// flush writes queued URCs and applies carrier changes, outside s.mu.
func (s *Sim) flush() {
	s.mu.Lock()
	ops := s.carrierOps
	s.carrierOps = nil
	sess := s.sessionList()
	s.mu.Unlock()
	for _, ss := range sess {
		ss.flushQueue(s)
	}
	if s.cfg.Carrier != nil {
		for _, up := range ops {
			if err := s.cfg.Carrier(up); err != nil {
				s.log.Warn("modemsim: carrier", "up", up, "err", err)
			}
		}
	}
}

// later runs f under the lock after d, unless the modem rebooted meanwhile.
func (s *Sim) later(d time.Duration, f func()) {
	gen := s.bootGen
	time.AfterFunc(d, func() {
		s.mu.Lock()
		if s.bootGen == gen {
			f()
		}
		s.mu.Unlock()
		s.flush()
	})
}
