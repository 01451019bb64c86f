package boards

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// The structures must match the kernel's uAPI (include/uapi/linux/gpio.h)
// byte for byte, or every ioctl fails with EINVAL or corrupts memory.
func TestGPIOStructSizesMatchKernelABI(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"gpiochip_info", unsafe.Sizeof(gpioChipInfo{}), 68},
		{"gpio_v2_line_attribute", unsafe.Sizeof(gpioLineAttr{}), 16},
		{"gpio_v2_line_info", unsafe.Sizeof(gpioLineInfo{}), 256},
		{"gpio_v2_line_config_attribute", unsafe.Sizeof(gpioConfigAttr{}), 24},
		{"gpio_v2_line_config", unsafe.Sizeof(gpioLineConfig{}), 272},
		{"gpio_v2_line_request", unsafe.Sizeof(gpioLineRequest{}), 592},
		{"gpio_v2_line_values", unsafe.Sizeof(gpioLineValues{}), 16},
	} {
		if tc.got != tc.want {
			t.Errorf("%s is %d bytes, kernel has %d", tc.name, tc.got, tc.want)
		}
	}
	// The ioctl numbers the kernel headers give for x86-64.
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"GPIO_GET_CHIPINFO_IOCTL", ioctlChipInfo, 0x8044b401},
		{"GPIO_V2_GET_LINEINFO_IOCTL", ioctlLineInfo, 0xc100b405},
		{"GPIO_V2_GET_LINE_IOCTL", ioctlGetLine, 0xc250b407},
		{"GPIO_V2_LINE_SET_VALUES_IOCTL", ioctlSetValues, 0xc010b40f},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

// pulses records the lines a reset drives.
type pulses []string

func (p *pulses) Pulse(line string, active bool, hold time.Duration) error {
	*p = append(*p, fmt.Sprintf("%s=%v for %v", line, active, hold))
	return nil
}

func TestSlotResetLines(t *testing.T) {
	p := Profiles["apu4"]
	var got pulses
	for _, slot := range []string{"mpcie3", "mpcie2"} {
		reset := p.SlotReset(&got, slot)
		if reset == nil {
			t.Fatalf("apu4 slot %s has a reset line", slot)
		}
		if err := reset(); err != nil {
			t.Fatal(err)
		}
	}
	// Each slot its own line, held low (PERST# is active low).
	if want := "[mpcie3_reset=false for 1s mpcie2_reset=false for 1s]"; fmt.Sprint(got) != want {
		t.Errorf("pulsed %v, want %s", got, want)
	}
	if Profiles["apu1"].SlotReset(&got, "mpcie1") != nil || p.SlotReset(&got, "nosuch") != nil {
		t.Fatal("reset for a slot without a line")
	}
	// No GPIO chips on a machine without the board driver: a clear error.
	if err := (CharDev{Dir: t.TempDir()}).Pulse("mpcie2_reset", false, 0); err == nil || !strings.Contains(err.Error(), "pcengines_apuv2") {
		t.Fatalf("err = %v", err)
	}
}
