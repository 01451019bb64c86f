package kmod

import (
	"strings"
	"testing"
)

// An excerpt of a real Debian 6.1 modules.dep.
const sampleDep = `kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/lib/crc16.ko:
kernel/drivers/usb/serial/option.ko: kernel/drivers/usb/serial/usb_wwan.ko kernel/drivers/usb/serial/usbserial.ko
kernel/drivers/usb/serial/usb_wwan.ko: kernel/drivers/usb/serial/usbserial.ko
kernel/drivers/usb/serial/usbserial.ko:
kernel/drivers/net/usb/cdc_ether.ko: kernel/drivers/net/usb/usbnet.ko kernel/drivers/net/mii.ko
kernel/drivers/net/usb/usbnet.ko: kernel/drivers/net/mii.ko
kernel/drivers/net/mii.ko:
kernel/drivers/platform/x86/pcengines-apuv2.ko: kernel/drivers/input/misc/gpio_keys_polled.ko
kernel/drivers/input/misc/gpio_keys_polled.ko:
`

func TestResolveOrdersDependenciesFirst(t *testing.T) {
	d, err := ParseDeps(strings.NewReader(sampleDep))
	if err != nil {
		t.Fatal(err)
	}
	d.ParseBuiltin(strings.NewReader("kernel/drivers/ata/ahci.ko\n"))
	files, missing, err := d.Resolve([]string{"option", "ext4", "cdc_ether", "usbserial", "pcengines_apuv2", "ahci", "nosuch"})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, f := range files {
		if _, dup := pos[f]; dup {
			t.Fatalf("%s loaded twice", f)
		}
		pos[Name(f)] = i
	}
	for _, pair := range [][2]string{{"usbserial", "usb_wwan"}, {"usb_wwan", "option"}, {"jbd2", "ext4"},
		{"crc16", "ext4"}, {"mii", "usbnet"}, {"usbnet", "cdc_ether"}, {"gpio_keys_polled", "pcengines_apuv2"}} {
		if pos[pair[0]] >= pos[pair[1]] {
			t.Errorf("%s must load before %s: %v", pair[0], pair[1], files)
		}
	}
	if len(files) != 12 {
		t.Errorf("got %d files: %v", len(files), files)
	}
	if len(missing) != 1 || missing[0] != "nosuch" {
		t.Errorf("missing %v (builtin ahci must not be reported)", missing)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/platform/x86/pcengines-apuv2.ko": "pcengines_apuv2",
		"ext4.ko.xz": "ext4", "ftdi-sio": "ftdi_sio", "option": "option",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q", in, got)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	d, _ := ParseDeps(strings.NewReader("a.ko: b.ko\nb.ko: a.ko\n"))
	if _, _, err := d.Resolve([]string{"a"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	d, _ = ParseDeps(strings.NewReader("a.ko: gone.ko\n"))
	if _, _, err := d.Resolve([]string{"a"}); err == nil || !strings.Contains(err.Error(), "no entry") {
		t.Fatalf("dangling: %v", err)
	}
	if _, err := ParseDeps(strings.NewReader("garbage line\n")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzParseDeps(f *testing.F) {
	f.Add(sampleDep)
	f.Add("a.ko: b.ko\nb.ko: a.ko\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDeps(strings.NewReader(s))
		if err != nil {
			return
		}
		var names []string
		for n := range d.path {
			names = append(names, n)
		}
		d.Resolve(names) // must not hang or panic
	})
}
