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
)

// Device is one modem found by Detect: its AT control port and the network
// interface of the same USB device.
type Device struct {
	Port string `json:"port"` // AT control port, e.g. /dev/ttyUSB2
	// DataPort is the tty pppd dials on when it is not the AT port (Sierra
	// MC8775: the modem port, USB interface 0). Empty: PPP shares Port.
	DataPort  string `json:"data_port,omitempty"`
	NetIface  string `json:"net_iface"`          // e.g. usb0, wwan0; "" for PPP-only modems
	NetDriver string `json:"net_driver"`         // cdc_ether, cdc_mbim, qmi_wwan ...
	VID       string `json:"vid,omitempty"`      // "12d1"
	PID       string `json:"pid,omitempty"`      // "1573"
	USBPath   string `json:"usb_path,omitempty"` // sysfs name of the USB device, e.g. "1-1.3"
	Profile   string `json:"profile"`            // profile name (see ProfileNames)
	// Ports lists every tty of the USB device with its interface number and
	// driver, for the report shown to installers.
	Ports []PortInfo `json:"ports,omitempty"`
	// Probed is true when the modem was recognised by talking AT to it
	// rather than by its USB id.
	Probed       bool   `json:"probed,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
}

// PortInfo is one tty of a USB modem.
type PortInfo struct {
	Name      string `json:"name"`      // ttyUSB2
	Interface int    `json:"interface"` // bInterfaceNumber
	Driver    string `json:"driver"`    // option, cdc_acm, sierra ...
}

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
	Logger   *slog.Logger
}

// Identity of the modem and SIM.
type Identity struct {
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Firmware     string `json:"firmware"`
	IMEI         string `json:"imei"`
	IMSI         string `json:"imsi,omitempty"`
	ICCID        string `json:"iccid,omitempty"`
}

// SIMState is what AT+CPIN? says.
type SIMState string

const (
	SIMReady   SIMState = "ready"
	SIMPIN     SIMState = "pin-required"
	SIMPUK     SIMState = "puk-required"
	SIMAbsent  SIMState = "absent"
	SIMBusy    SIMState = "busy"
	SIMError   SIMState = "error"
	SIMUnknown SIMState = "unknown"
)

// SIMStatus is the SIM state with the PIN/PUK attempts left (-1 unknown).
type SIMStatus struct {
	State       SIMState `json:"state"`
	PINAttempts int      `json:"pin_attempts"`
	PUKAttempts int      `json:"puk_attempts"`
	ICCID       string   `json:"iccid,omitempty"`
	// PINRejected is true when the PIN stored for this ICCID already
	// failed once: the box will not send it again until a new PIN is given.
	PINRejected bool `json:"pin_rejected,omitempty"`
}

// ErrPINAlreadyRejected is returned by EnterPIN for a PIN that already
// failed on this SIM: sending it again would burn an attempt.
var ErrPINAlreadyRejected = errors.New("this PIN was already rejected by the SIM; enter a different PIN")

// ErrWrongPIN is returned by EnterPIN when the SIM rejects the PIN.
var ErrWrongPIN = errors.New("SIM rejected the PIN")

// RegState is the network registration state.
type RegState string

const (
	RegNotRegistered RegState = "not-registered"
	RegHome          RegState = "home"
	RegSearching     RegState = "searching"
	RegDenied        RegState = "denied"
	RegUnknown       RegState = "unknown"
	RegRoaming       RegState = "roaming"
)

// Registered reports whether the state allows data.
func (s RegState) Registered() bool { return s == RegHome || s == RegRoaming }

// AccessTech is the radio access technology.
type AccessTech string

const (
	TechUnknown AccessTech = ""
	TechGSM     AccessTech = "gsm"
	TechGPRS    AccessTech = "gprs"
	TechEDGE    AccessTech = "edge"
	TechUMTS    AccessTech = "umts"
	TechHSDPA   AccessTech = "hsdpa"
	TechHSUPA   AccessTech = "hsupa"
	TechHSPA    AccessTech = "hspa"
	TechHSPAP   AccessTech = "hspa+"
	TechLTE     AccessTech = "lte"
)

// Registration is the combined CS/PS/EPS registration and operator.
type Registration struct {
	State    RegState   `json:"state"`
	Tech     AccessTech `json:"tech,omitempty"`
	Operator string     `json:"operator,omitempty"`
	LAC      string     `json:"lac,omitempty"`
	CellID   string     `json:"cell_id,omitempty"`
}

// Signal strength. Fields the modem does not report are nil.
type Signal struct {
	RSSI *int       `json:"rssi_dbm,omitempty"` // dBm
	RSRP *int       `json:"rsrp_dbm,omitempty"` // LTE, dBm
	RSRQ *float64   `json:"rsrq_db,omitempty"`  // LTE, dB
	SINR *float64   `json:"sinr_db,omitempty"`  // LTE, dB
	RSCP *int       `json:"rscp_dbm,omitempty"` // UMTS, dBm
	EcIo *float64   `json:"ecio_db,omitempty"`  // UMTS, dB
	Tech AccessTech `json:"tech,omitempty"`
}

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

// LinkStatus is the data connection state the modem reports.
type LinkStatus struct {
	Connected bool `json:"connected"`
	// Connecting is true while the modem reports activation in progress.
	Connecting bool `json:"connecting,omitempty"`
	// Cause is the network's reason when activation failed (3GPP 24.008
	// session management cause), e.g. "33 requested service option not
	// subscribed"; empty for a plain disconnect.
	Cause string `json:"cause,omitempty"`
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
	// engine's "reopened", "reset" (vendor reset) or "slot-reset", or ""
	// when the modem restarted by itself.
	Recovery string `json:"recovery,omitempty"`
}

// SMS is one (reassembled) short message.
type SMS struct {
	ID       string    `json:"id"` // store id, stable
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
	Text     string    `json:"text"`
	Time     time.Time `json:"time"`     // service centre time stamp or send time
	Received time.Time `json:"received"` // when stored
	Outgoing bool      `json:"outgoing,omitempty"`
	Parts    int       `json:"parts"`
}
