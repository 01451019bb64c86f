package modem

// Per-vendor set-up of the voice path. Which card carries voice and how is
// summarised, with sources, in modem/README.md ("Voice").

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// VoiceSupport says whether the card can carry voice after VoiceSetup.
type VoiceSupport struct {
	Capable bool
	Why     string // why not, for the status page; or what was set up
	// AudioInterface is the USB interface number of the tty that carries
	// the PCM stream (8 kHz s16le mono); -1 when none. AudioPort is that
	// tty when the Device's port list has it.
	AudioInterface int
	AudioPort      string
}

// voiceVendor is how one vendor's card does voice.
type voiceVendor struct {
	// setup enables the voice path (after Init, after every reset).
	setup func(ctx context.Context, at AT) (VoiceSupport, error)
	// afterConnect is sent once a call is up ("" none).
	afterConnect string
	// dtmf is the command sending one digit on call.
	dtmf          func(call int, d byte) string
	dtmfNeedsCall bool
}

// voiceProfile lets a profile bring its own voice handling; profiles
// without it get the one chosen by name below (profile.go and vendors.go
// are left alone by the voice code).
type voiceProfile interface {
	voice() voiceVendor
}

func (m *Modem) voiceVendor() voiceVendor {
	if vp, ok := m.prof.(voiceProfile); ok {
		return vp.voice()
	}
	return voiceVendorFor(m.prof.Name())
}

func vtsDTMF(_ int, d byte) string { return "AT+VTS=" + string(d) }

func voiceVendorFor(profile string) voiceVendor {
	switch {
	case strings.HasPrefix(profile, "huawei"):
		return voiceVendor{
			setup: huaweiVoiceSetup,
			// chan_dongle sends AT^DDSETEX=2 after ATA and after ATD:
			// it starts the PCM stream on the voice port.
			afterConnect: "AT^DDSETEX=2",
			// chan_dongle: AT^DTMF=<call>,<digit> (older Huawei firmware
			// lacks +VTS).
			dtmf:          func(call int, d byte) string { return fmt.Sprintf("AT^DTMF=%d,%c", call, d) },
			dtmfNeedsCall: true,
		}
	case strings.HasPrefix(profile, "quectel"):
		return voiceVendor{setup: quectelVoiceSetup, dtmf: vtsDTMF}
	case strings.HasPrefix(profile, "ericsson"), profile == "dell-dw5550":
		return voiceVendor{setup: noVoice("the Ericsson F5521gw / Dell DW5550 is a data-only card: no voice path (guessed from its data sheet; never tried)"), dtmf: vtsDTMF}
	case strings.HasPrefix(profile, "sierra"):
		return voiceVendor{setup: noVoice("the Sierra MC8775 has no USB voice port; its analogue/PCM voice pins are not wired on the APU's mini-PCIe slots (guessed)"), dtmf: vtsDTMF}
	}
	return voiceVendor{setup: noVoice("unknown card: no known voice path"), dtmf: vtsDTMF}
}

func noVoice(why string) func(context.Context, AT) (VoiceSupport, error) {
	return func(context.Context, AT) (VoiceSupport, error) {
		return VoiceSupport{Why: why, AudioInterface: -1}, nil
	}
}

// parseCVOICE parses "^CVOICE: <mode>,<sampling rate>,<data bits>,<frame
// period>" (mode 0: voice on the USB voice port). Data-only firmware
// answers the mode alone ("^CVOICE:1"): rate, bits and period are 0 then.
func parseCVOICE(s string) (mode, rate, bits, period int, err error) {
	f := Fields(s)
	if len(f) != 1 && len(f) < 4 {
		return 0, 0, 0, 0, fmt.Errorf("^CVOICE %q: want 1 or 4 fields", s)
	}
	var n [4]int
	for i := range f[:min(len(f), 4)] {
		if n[i], err = strconv.Atoi(f[i]); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("^CVOICE %q: field %d not a number", s, i+1)
		}
	}
	return n[0], n[1], n[2], n[3], nil
}

// huaweiVoiceSetup: AT^CVOICE? says whether the firmware has USB voice
// and its format; AT^CVOICE=0 turns it on (chan_dongle).
func huaweiVoiceSetup(ctx context.Context, at AT) (VoiceSupport, error) {
	query := func() (mode, rate, bits int, why string, err error) {
		r, err := at.Command(ctx, "AT^CVOICE?", 3*time.Second)
		if err != nil {
			var te *timeoutError
			if errors.As(err, &te) {
				return 0, 0, 0, "", err
			}
			return 0, 0, 0, "the card refused AT^CVOICE? (" + err.Error() + "): its firmware has no USB voice", nil
		}
		v, ok := r.Line("^CVOICE:")
		if !ok {
			return 0, 0, 0, "AT^CVOICE? gave no ^CVOICE line: no USB voice", nil
		}
		mode, rate, bits, _, perr := parseCVOICE(v)
		if perr != nil {
			return 0, 0, 0, perr.Error(), nil
		}
		return mode, rate, bits, "", nil
	}
	mode, rate, bits, why, err := query()
	if err != nil || why != "" {
		return VoiceSupport{Why: why, AudioInterface: -1}, err
	}
	if mode != 0 {
		if _, err := at.Command(ctx, "AT^CVOICE=0", 3*time.Second); err != nil {
			return VoiceSupport{Why: "voice is off (^CVOICE mode " + strconv.Itoa(mode) + ") and AT^CVOICE=0 was refused: data-only firmware", AudioInterface: -1}, nil
		}
		if mode, rate, bits, why, err = query(); err != nil || why != "" {
			return VoiceSupport{Why: why, AudioInterface: -1}, err
		}
		if mode != 0 {
			return VoiceSupport{Why: "AT^CVOICE=0 was accepted but ^CVOICE still says mode " + strconv.Itoa(mode), AudioInterface: -1}, nil
		}
	}
	if rate != 8000 || bits != 16 {
		return VoiceSupport{Why: fmt.Sprintf("the card's voice format is %d Hz %d bit, not 8000 Hz 16 bit", rate, bits), AudioInterface: -1}, nil
	}
	// The voice tty is USB interface 1 on the Huawei dongles chan_dongle
	// supports (E1550: ttyUSB1); on ME909/MU609 this is a guess.
	return VoiceSupport{Capable: true, Why: "Huawei USB voice (^CVOICE=0, ^DDSETEX=2 per call)", AudioInterface: 1}, nil
}

// quectelVoiceSetup: AT+QPCMV=1,0 streams the call's PCM over the USB
// serial port of interface 1 (the NMEA port, ttyUSB1): Quectel's "Voice
// over USB" (1,2 would be USB Audio Class). The card forgets it on reboot.
// AT+QTONEDET=1 reports received DTMF as +QTONEDET.
func quectelVoiceSetup(ctx context.Context, at AT) (VoiceSupport, error) {
	if _, err := at.Command(ctx, "AT+QPCMV=1,0", 3*time.Second); err != nil {
		var te *timeoutError
		if errors.As(err, &te) {
			return VoiceSupport{AudioInterface: -1}, err
		}
		// The card refuses a switch while UAC mode (1,2) is on: turn
		// voice off first, then try again.
		at.Command(ctx, "AT+QPCMV=0", 3*time.Second)
		if _, err := at.Command(ctx, "AT+QPCMV=1,0", 3*time.Second); err != nil {
			return VoiceSupport{Why: "AT+QPCMV=1,0 refused: " + err.Error(), AudioInterface: -1}, nil
		}
	}
	at.Command(ctx, "AT+QTONEDET=1", 3*time.Second) // optional: DTMF detection
	return VoiceSupport{Capable: true, Why: "Quectel voice over USB (AT+QPCMV=1,0)", AudioInterface: 1}, nil
}

// VoiceSetup turns on what calls need: caller id (+CLIP), typed rings
// (+CRING), SMS status reports (+CDS) and the vendor's voice path. The
// caller runs it again after every modem reset.
func (m *Modem) VoiceSetup(ctx context.Context) (VoiceSupport, error) {
	for _, c := range []string{"AT+CLIP=1", "AT+CRC=1"} {
		if _, err := m.eng.Command(ctx, c, 3*time.Second); err != nil {
			m.log.Warn("voice set-up", "cmd", c, "err", err)
		}
	}
	if err := m.EnableStatusReports(ctx); err != nil {
		m.log.Warn("SMS status reports", "err", err)
	}
	vs, err := m.voiceVendor().setup(ctx, m.eng)
	if err != nil {
		return vs, m.wrap("voice set-up", err)
	}
	if vs.AudioInterface >= 0 {
		for _, p := range m.dev.Ports {
			if p.Interface == vs.AudioInterface {
				vs.AudioPort = "/dev/" + p.Name
			}
		}
	}
	return vs, nil
}
