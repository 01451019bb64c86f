// Package modemapi holds the modem's JSON types as netctl's API shows them
// (device, identity, SIM, registration, signal, link, SMS). It is a leaf:
// clients (init, web, edgectl) import it without linking the AT engine in
// package modem, which aliases these types.
package modemapi

import "time"

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

// Identity of the modem and SIM.
type Identity struct {
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Firmware     string `json:"firmware"`
	IMEI         string `json:"imei"`
	IMSI         string `json:"imsi,omitempty"`
	ICCID        string `json:"iccid,omitempty"`
	// Number is the SIM's own number (AT+CNUM); most SIMs do not store it.
	Number string `json:"number,omitempty"`
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
	// Band is the serving band as the modem names it ("LTE BAND 3");
	// empty where the vendor has no command for it.
	Band string `json:"band,omitempty"`
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
