package boards

import (
	"strings"
	"testing"
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

func TestSlotResetLines(t *testing.T) {
	p := Profiles["apu4"]
	if p.SlotReset("mpcie2") == nil || p.SlotReset("mpcie3") == nil {
		t.Fatal("apu4 slots have reset lines")
	}
	if Profiles["apu1"].SlotReset("mpcie1") != nil || p.SlotReset("nosuch") != nil {
		t.Fatal("reset for a slot without a line")
	}
	// No GPIO chips on a machine without the board driver: a clear error.
	if _, err := findLine(t.TempDir(), "mpcie2_reset"); err == nil || !strings.Contains(err.Error(), "pcengines_apuv2") {
		t.Fatalf("err = %v", err)
	}
}
