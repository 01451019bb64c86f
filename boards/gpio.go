package boards

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// GPIO lines are found by the name the board driver gives them
// (pcengines-apuv2: "mpcie2_reset", "simswap", "front-button") through the
// GPIO character device (uAPI v2), never by sysfs number: numbers change
// between kernels, names do not.

const (
	gpioNameSize   = 32
	gpioMaxLines   = 64
	gpioMaxAttrs   = 10
	gpioFlagOutput = 1 << 3
	gpioAttrValues = 2 // GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
)

type gpioChipInfo struct {
	Name, Label [gpioNameSize]byte
	Lines       uint32
}

type gpioLineAttr struct {
	ID      uint32
	Padding uint32
	Value   uint64
}

type gpioLineInfo struct {
	Name, Consumer [gpioNameSize]byte
	Offset         uint32
	NumAttrs       uint32
	Flags          uint64
	Attrs          [gpioMaxAttrs]gpioLineAttr
	Padding        [4]uint32
}

type gpioConfigAttr struct {
	Attr gpioLineAttr
	Mask uint64
}

type gpioLineConfig struct {
	Flags    uint64
	NumAttrs uint32
	Padding  [5]uint32
	Attrs    [gpioMaxAttrs]gpioConfigAttr
}

type gpioLineRequest struct {
	Offsets         [gpioMaxLines]uint32
	Consumer        [gpioNameSize]byte
	Config          gpioLineConfig
	NumLines        uint32
	EventBufferSize uint32
	Padding         [5]uint32
	FD              int32
}

type gpioLineValues struct{ Bits, Mask uint64 }

func iowr(nr, size uintptr) uintptr { return 3<<30 | size<<16 | 0xB4<<8 | nr }
func ior(nr, size uintptr) uintptr  { return 2<<30 | size<<16 | 0xB4<<8 | nr }

var (
	ioctlChipInfo  = ior(0x01, unsafe.Sizeof(gpioChipInfo{}))
	ioctlLineInfo  = iowr(0x05, unsafe.Sizeof(gpioLineInfo{}))
	ioctlGetLine   = iowr(0x07, unsafe.Sizeof(gpioLineRequest{}))
	ioctlSetValues = iowr(0x0F, unsafe.Sizeof(gpioLineValues{}))
)

func ioctl(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// gpioLine is a named line on one chip.
type gpioLine struct {
	chip   string // /dev/gpiochipN
	offset uint32
}

// findLine searches every GPIO chip under devDir for a line called name.
func findLine(devDir, name string) (gpioLine, error) {
	chips, _ := filepath.Glob(filepath.Join(devDir, "gpiochip*"))
	for _, chip := range chips {
		f, err := os.Open(chip)
		if err != nil {
			continue
		}
		var info gpioChipInfo
		if ioctl(f.Fd(), ioctlChipInfo, unsafe.Pointer(&info)) != nil {
			f.Close()
			continue
		}
		for off := uint32(0); off < info.Lines; off++ {
			li := gpioLineInfo{Offset: off}
			if ioctl(f.Fd(), ioctlLineInfo, unsafe.Pointer(&li)) == nil && cstr(li.Name[:]) == name {
				f.Close()
				return gpioLine{chip: chip, offset: off}, nil
			}
		}
		f.Close()
	}
	return gpioLine{}, fmt.Errorf("no GPIO line named %q (is the board driver, e.g. pcengines_apuv2, loaded?)", name)
}

// pulse drives the line to assert for hold, then back to !assert.
func (l gpioLine) pulse(assert bool, hold time.Duration) error {
	f, err := os.Open(l.chip)
	if err != nil {
		return err
	}
	defer f.Close()
	var req gpioLineRequest
	req.Offsets[0] = l.offset
	req.NumLines = 1
	copy(req.Consumer[:], "edgebox")
	req.Config.Flags = gpioFlagOutput
	req.Config.NumAttrs = 1
	req.Config.Attrs[0] = gpioConfigAttr{Attr: gpioLineAttr{ID: gpioAttrValues, Value: bit(assert)}, Mask: 1}
	if err := ioctl(f.Fd(), ioctlGetLine, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("request GPIO %s line %d: %w", l.chip, l.offset, err)
	}
	line := os.NewFile(uintptr(req.FD), "gpio-line")
	defer line.Close()
	time.Sleep(hold)
	v := gpioLineValues{Bits: bit(!assert), Mask: 1}
	if err := ioctl(line.Fd(), ioctlSetValues, unsafe.Pointer(&v)); err != nil {
		return fmt.Errorf("release GPIO line %d: %w", l.offset, err)
	}
	return nil
}

func bit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// GPIO drives the board's GPIO lines by the names the kernel gives them.
// CharDev is the real one; tests put a fake in its place to see which line
// a reset would pulse without a board.
type GPIO interface {
	// Pulse drives line to active for hold, then back to !active.
	Pulse(line string, active bool, hold time.Duration) error
}

// CharDev drives lines through the GPIO character devices in Dir ("/dev").
type CharDev struct{ Dir string }

// Pulse finds line on any chip in Dir and pulses it.
func (c CharDev) Pulse(line string, active bool, hold time.Duration) error {
	l, err := findLine(c.Dir, line)
	if err != nil {
		return err
	}
	return l.pulse(active, hold)
}

// ResetHold is how long a slot's reset line (PERST#, active low) is held:
// long enough for a mini-PCIe card to drop its USB device and reboot.
const ResetHold = time.Second

// ResetLine is the GPIO line that resets the card in modem slot name (the
// kernel's name, through GPIOs), "" when the board has none for it.
func (p Profile) ResetLine(slot string) string {
	for _, s := range p.ModemSlots {
		if s.Name == slot && s.ResetGPIO != "" {
			if l := p.GPIOs[s.ResetGPIO]; l != "" {
				return l
			}
			return s.ResetGPIO
		}
	}
	return ""
}

// SlotReset returns a function that resets the card in modem slot name by
// pulsing its reset line through g (driven low for ResetHold), or nil when
// the board has no such line for that slot. The modem engine calls it as
// the last step of its recovery, after reopening the port and a vendor
// reset; the caller must know which slot holds the modem (netctl/slot.go).
func (p Profile) SlotReset(g GPIO, slot string) func() error {
	line := p.ResetLine(slot)
	if line == "" {
		return nil
	}
	return func() error { return g.Pulse(line, false, ResetHold) }
}
