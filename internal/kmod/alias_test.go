package kmod

import (
	"reflect"
	"strings"
	"testing"
)

// The "usb:" lines are parsed only when a USB device is matched; the image
// builder's Filter and WriteTo must still carry them, and BindsDevices must
// know their modules before any USB match.
func TestUSBAliasesParsedLate(t *testing.T) {
	const text = `# Aliases extracted from modules themselves.
alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e
alias usb:v0403p6001d*dc*dsc*dp*ic*isc*ip*in* ftdi_sio
alias usb:v1199p68C0d*dc*dsc*dp*ic*isc*ip*in03 qmi_wwan
alias fs-ext4 ext4
`
	a, err := ParseAliases(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if !a.BindsDevices("ftdi_sio") || !a.BindsDevices("qmi_wwan") || a.BindsDevices("ext4") {
		t.Error("BindsDevices wrong before the USB patterns were parsed")
	}
	var out strings.Builder
	if _, err := a.Filter(func(m string) bool { return m != "qmi_wwan" }).WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "alias usb:v0403p6001d*dc*dsc*dp*ic*isc*ip*in* ftdi_sio\n") || strings.Contains(out.String(), "qmi_wwan") {
		t.Fatalf("filtered aliases:\n%s", out.String())
	}
	b, err := ParseAliases(strings.NewReader(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Match("usb:v0403p6001d0400dc00dsc00dp00icFFiscFFipFFin00"); !reflect.DeepEqual(got, []string{"ftdi_sio"}) {
		t.Errorf("USB match after the round trip: %v", got)
	}
	if got := a.Match("usb:v1199p68C0d0006dc00dsc00dp00icFFiscFFipFFin03"); !reflect.DeepEqual(got, []string{"qmi_wwan"}) {
		t.Errorf("USB match: %v", got)
	}
	if got := a.Match("pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"); !reflect.DeepEqual(got, []string{"e1000e"}) {
		t.Errorf("PCI match: %v", got)
	}
}
