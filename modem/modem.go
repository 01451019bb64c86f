package modem

import (
	"context"
	"errors"
)

// Modem is one opened modem: the AT engine running in its own goroutine
// plus the vendor profile. All methods are safe for concurrent use.
type Modem struct {
	dev    Device
	opts   Options
	eng    *Engine
	prof   Profile
	cancel context.CancelFunc
	done   chan struct{}
}

var errTODO = errors.New("modem: not implemented yet")

// Open opens the AT port of dev, starts the engine and initialises the
// modem with its profile (echo off, numeric errors, URCs on). It does not
// enter a PIN or connect.
func Open(ctx context.Context, opts Options) (*Modem, error) { return nil, errTODO }

// Close stops the engine and closes the port. It does not turn the radio off.
func (m *Modem) Close() error { return errTODO }

// Device returns the device this modem was opened on.
func (m *Modem) Device() Device { return m.dev }

// ProfileName is the vendor profile in use.
func (m *Modem) ProfileName() string { return "" }

// PPPOnly reports a modem without a network interface (pppd is needed).
func (m *Modem) PPPOnly() bool { return false }

// PreferModemAddress reports that the address from Address should be used
// instead of (or when) DHCP on the network interface fails.
func (m *Modem) PreferModemAddress() bool { return false }

// Events delivers changes reported by the modem. The channel is closed by
// Close. Slow readers lose the oldest events, never block the engine.
func (m *Modem) Events() <-chan Event { return nil }

// Identity reads manufacturer, model, firmware, IMEI and, when the SIM is
// ready, IMSI and ICCID.
func (m *Modem) Identity(ctx context.Context) (Identity, error) { return Identity{}, errTODO }

// SIM reads the SIM state and the attempts left.
func (m *Modem) SIM(ctx context.Context) (SIMStatus, error) { return SIMStatus{}, errTODO }

// EnterPIN sends pin if the SIM asks for one. A PIN the SIM already
// rejected for this ICCID is refused with ErrPINAlreadyRejected; a wrong
// PIN returns ErrWrongPIN and is never retried automatically.
func (m *Modem) EnterPIN(ctx context.Context, pin string) error { return errTODO }

// Registration reads the registration state, access technology and operator.
func (m *Modem) Registration(ctx context.Context) (Registration, error) {
	return Registration{}, errTODO
}

// Signal reads the signal strength.
func (m *Modem) Signal(ctx context.Context) (Signal, error) { return Signal{}, errTODO }

// Connect brings the data connection up with apn. For PPP-only modems it
// only configures the PDP context; netctl then runs pppd with PPPArgs.
func (m *Modem) Connect(ctx context.Context, apn APN) error { return errTODO }

// Disconnect brings the data connection down; already down is not an error.
func (m *Modem) Disconnect(ctx context.Context) error { return errTODO }

// Link reads the data connection state.
func (m *Modem) Link(ctx context.Context) (LinkStatus, error) { return LinkStatus{}, errTODO }

// Address reads the IP configuration from the modem (^DHCP, *E2IPCFG).
func (m *Modem) Address(ctx context.Context) (IPConfig, error) { return IPConfig{}, errTODO }

// Status reads SIM, registration, signal and link in one go; fields that
// fail are left zero and the first error is in Status.Error.
func (m *Modem) Status(ctx context.Context) Status { return Status{} }

// RadioOff turns the radio off, as installers' post-down hooks do.
func (m *Modem) RadioOff(ctx context.Context) error { return errTODO }

// Reset restarts the modem with the vendor reset command.
func (m *Modem) Reset(ctx context.Context) error { return errTODO }

// PPP returns the dial parameters for pppd (PPP-only modems).
func (m *Modem) PPP(apn APN) PPPParams { return PPPParams{} }

// SendSMS sends text to number, split into concatenated parts when long.
func (m *Modem) SendSMS(ctx context.Context, number, text string) (SMS, error) {
	return SMS{}, errTODO
}

// ListSMS returns the stored messages, oldest first.
func (m *Modem) ListSMS() ([]SMS, error) { return nil, errTODO }

// DeleteSMS removes a stored message.
func (m *Modem) DeleteSMS(id string) error { return errTODO }

// FetchSMS reads every message waiting on the SIM, stores it durably and
// then deletes it from the SIM. It returns the newly stored messages.
func (m *Modem) FetchSMS(ctx context.Context) ([]SMS, error) { return nil, errTODO }

// Detect finds the modems on this box. A configured port overrides
// detection. Modems that never answer come back as *FaultyModemError.
func Detect(ctx context.Context, opts DetectOptions) ([]Device, error) { return nil, errTODO }

// PPPDArgs builds pppd's command line for p (netctl runs it).
func PPPDArgs(p PPPParams) []string { return nil }
