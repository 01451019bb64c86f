// Package modem drives the 3G/LTE mini-PCIe modems of an edgebox: an AT
// command engine that owns the serial port, vendor profiles, SIM and PIN
// handling, registration and signal, the data connection, SMS in PDU mode
// and detection of modems through sysfs.
//
// The high-level entry points are Detect (which modems are there) and Open
// (a *Modem for one of them). netctl is the only user on the box.
package modem

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"edgebox/api/modemapi"
)

// The JSON types netctl's API shows live in the leaf package modemapi, so
// that clients do not link the AT engine; these aliases keep the names.
type (
	Device       = modemapi.Device
	PortInfo     = modemapi.PortInfo
	Identity     = modemapi.Identity
	SIMState     = modemapi.SIMState
	SIMStatus    = modemapi.SIMStatus
	RegState     = modemapi.RegState
	AccessTech   = modemapi.AccessTech
	Registration = modemapi.Registration
	Signal       = modemapi.Signal
	LinkStatus   = modemapi.LinkStatus
	SMS          = modemapi.SMS
)

const (
	SIMReady   = modemapi.SIMReady
	SIMPIN     = modemapi.SIMPIN
	SIMPUK     = modemapi.SIMPUK
	SIMAbsent  = modemapi.SIMAbsent
	SIMBusy    = modemapi.SIMBusy
	SIMError   = modemapi.SIMError
	SIMUnknown = modemapi.SIMUnknown

	RegNotRegistered = modemapi.RegNotRegistered
	RegHome          = modemapi.RegHome
	RegSearching     = modemapi.RegSearching
	RegDenied        = modemapi.RegDenied
	RegUnknown       = modemapi.RegUnknown
	RegRoaming       = modemapi.RegRoaming

	TechUnknown = modemapi.TechUnknown
	TechGSM     = modemapi.TechGSM
	TechGPRS    = modemapi.TechGPRS
	TechEDGE    = modemapi.TechEDGE
	TechUMTS    = modemapi.TechUMTS
	TechHSDPA   = modemapi.TechHSDPA
	TechHSUPA   = modemapi.TechHSUPA
	TechHSPA    = modemapi.TechHSPA
	TechHSPAP   = modemapi.TechHSPAP
	TechLTE     = modemapi.TechLTE
)

// DetectOptions configures Detect. Zero values mean the real system.
type DetectOptions struct {
	SysfsRoot string // default "/sys"
	DevRoot   string // default "/dev"
	// Port, when set, is the configured AT port: it overrides detection.
	Port string
	// DataPort, when set, is the configured PPP data port (a name under
	// DevRoot or a path): it overrides the one detection picks.
	DataPort string
	// Profile, when set, overrides the profile chosen from the USB id or
	// probe answers.
	Profile string
	// ProbeTimeout bounds each probe command on unknown serial devices.
	ProbeTimeout time.Duration // default 1s
	// OpenPort opens a port for probing; default go.bug.st/serial (tests
	// map fake /dev paths to simulators).
	OpenPort func(path string) (io.ReadWriteCloser, error)
	Logger   *slog.Logger
}

// FaultyModemError reports a modem (or candidate port) that never answered,
// with what was tried, so an installer can act on it.
type FaultyModemError struct {
	Port  string
	Tried []string // e.g. "AT: timeout after 1s"
	Err   error
}

func (e *FaultyModemError) Error() string {
	return fmt.Sprintf("modem on %s is not answering (tried %v): %v; power-cycle the box or reseat the card", e.Port, e.Tried, e.Err)
}

func (e *FaultyModemError) Unwrap() error { return e.Err }

// ErrNoModem is returned by Detect when no modem is present.
var ErrNoModem = errors.New("no modem found")

// Options configures Open.
type Options struct {
	Device Device
	// Baud is the serial speed; USB serial ignores it. Default 115200.
	Baud int
	// CommandTimeout is the default per-command timeout. Default 5s.
	CommandTimeout time.Duration
	// MaxTimeouts is how many consecutive timeouts start recovery: reopen
	// the port, else the vendor reset, else SlotReset, each checked with
	// "AT"; the first that works ends it, and if none does the modem is
	// faulty (EventFaulty, commands fail with ErrFaulty). Default 3.
	MaxTimeouts int
	// SlotReset toggles the board's reset GPIO of the modem's slot (the
	// board profile names the line, e.g. mpcie2_reset). Optional.
	SlotReset func() error
	// SMSDir is where received messages are stored durably
	// (netctl passes /perm/edgebox/sms). Empty disables SMS storage:
	// then received messages are left on the SIM.
	SMSDir string
	// SMSPoll is how often the SIM is checked for messages whose +CMTI
	// was missed or could not be stored. Default 5 minutes; <0 disables.
	SMSPoll time.Duration
	// StateDir keeps the record of PINs the SIM rejected, so a restart
	// never re-sends one. Default: SMSDir.
	StateDir string
	// ConnectTimeout bounds Connect's wait for the link. Default 60s.
	ConnectTimeout time.Duration
	// ProbeTimeout and RebootWait tune recovery (see EngineConfig).
	ProbeTimeout time.Duration
	RebootWait   time.Duration
	// OpenPort replaces opening Device.Port with go.bug.st/serial (tests,
	// sockets).
	OpenPort func() (io.ReadWriteCloser, error)
	// PortGone reports the port's device gone (EngineConfig.Gone);
	// default: Device.Port's node no longer exists, unless OpenPort is
	// set.
	PortGone func() bool
	Logger   *slog.Logger
}

// ErrPINAlreadyRejected is returned by EnterPIN for a PIN that already
// failed on this SIM: sending it again would burn an attempt.
var ErrPINAlreadyRejected = errors.New("this PIN was already rejected by the SIM; enter a different PIN")

// ErrLastPINAttempt is returned by EnterPIN, without sending the PIN, when
// the SIM has one attempt left and never took this PIN: a wrong one would
// block the SIM until someone enters its PUK.
var ErrLastPINAttempt = errors.New("the SIM has one PIN attempt left and the box will not risk it: check the PIN by unlocking the SIM in a phone, then put it back")

// ErrWrongPIN is returned by EnterPIN when the SIM rejects the PIN.
var ErrWrongPIN = errors.New("SIM rejected the PIN")

// ErrWrongPUK is returned by EnterPUK when the SIM rejects the PUK; the
// message carries the attempts left. It is never sent again by the box.
var ErrWrongPUK = errors.New("the SIM rejected the PUK")

// ErrPUKAlreadyRejected is returned by EnterPUK, without sending it, for a
// PUK this SIM already refused (a second tap on the button): each wrong
// PUK costs one of its ten attempts.
var ErrPUKAlreadyRejected = errors.New("this PUK was already rejected by the SIM; check the PUK on the SIM's card holder")

// ErrSIMBlockedForGood: no PUK attempts left; no PUK, no phone opens the
// SIM any more.
var ErrSIMBlockedForGood = errors.New("the SIM is blocked for good (no PUK attempts left): ask the operator for a new SIM")

// ErrNotPUKLocked is returned by EnterPUK when the SIM does not ask for a
// PUK (nothing is sent).
var ErrNotPUKLocked = errors.New("the SIM is not blocked: it does not ask for a PUK")

// AuthType is the PDP authentication protocol.
type AuthType string

const (
	AuthNone AuthType = "none"
	AuthPAP  AuthType = "pap"
	AuthCHAP AuthType = "chap"
)

// APN is the data connection setting.
type APN struct {
	Name     string   `json:"name"`
	User     string   `json:"user,omitempty"`
	Password string   `json:"-"`
	Auth     AuthType `json:"auth,omitempty"`
}

// IPConfig is the address the modem itself reports (^DHCP, *E2IPCFG), used
// when the profile prefers it over DHCP on the CDC Ethernet port.
type IPConfig struct {
	Address netip.Prefix `json:"address"`
	Gateway netip.Addr   `json:"gateway"`
	DNS     []netip.Addr `json:"dns,omitempty"`
}

// Status is a snapshot for the UI and netctl's decisions.
type Status struct {
	Device       Device       `json:"device"`
	Profile      string       `json:"profile"`
	SIM          SIMStatus    `json:"sim"`
	Registration Registration `json:"registration"`
	Signal       Signal       `json:"signal"`
	Link         LinkStatus   `json:"link"`
	Faulty       bool         `json:"faulty,omitempty"`
	Error        string       `json:"error,omitempty"`
}

// PPPParams is what pppd needs to dial a PPP-only modem (netctl runs pppd).
type PPPParams struct {
	// Port is the tty pppd opens: the data port, or the AT port when the
	// modem has no separate one (then SharedATPort is true).
	Port string `json:"port"`
	// SharedATPort: Port is the engine's AT port; Modem.Suspend before
	// pppd starts and Modem.Resume after it exits.
	SharedATPort bool     `json:"shared_at_port,omitempty"`
	DialString   string   `json:"dial_string"` // ATD*99***1#
	Init         []string `json:"init"`        // chat lines before dialing
	APN          APN      `json:"apn"`
}

// EventKind names what an Event reports.
type EventKind string

const (
	EventRegistration EventKind = "registration" // Registration set
	EventLink         EventKind = "link"         // Link set
	EventSIM          EventKind = "sim"          // SIM set
	EventSignal       EventKind = "signal"       // Signal set
	EventSMS          EventKind = "sms"          // SMS set: stored in SMSDir
	EventReset        EventKind = "reset"        // modem rebooted or was reset
	EventFaulty       EventKind = "faulty"       // recovery exhausted; Err set
	EventRemoved      EventKind = "removed"      // the port's device is gone (pulled out); Err set
	EventRing         EventKind = "ring"
)

// Event is a change the modem reported on its own (URC) or recovery did.
type Event struct {
	Kind         EventKind     `json:"kind"`
	Time         time.Time     `json:"time"`
	Registration *Registration `json:"registration,omitempty"`
	Link         *LinkStatus   `json:"link,omitempty"`
	SIM          *SIMStatus    `json:"sim,omitempty"`
	Signal       *Signal       `json:"signal,omitempty"`
	SMS          *SMS          `json:"sms,omitempty"`
	Err          string        `json:"error,omitempty"`
	// Recovery says what brought the modem back for EventReset: the
	// engine's "reopened", "reset" (vendor reset) or "slot-reset",
	// "replugged" when its port came back after EventRemoved, or "" when
	// the modem restarted by itself.
	Recovery string `json:"recovery,omitempty"`
}
