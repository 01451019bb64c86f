package main

import "testing"

// TestHotplugNICWaitsForBootNICs: a network device that appears while the
// boot still loads its NIC drivers (QEMU's virtio NIC, created when
// virtio_pci probes) gets its driver after them, so it cannot take eth0
// from the e1000e that is still probing; other devices, and any device
// once the NICs are in, are served at once.
func TestHotplugNICWaitsForBootNICs(t *testing.T) {
	const (
		virtioNet = "virtio:d00000001v00001AF4"
		pciNIC    = "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"
		usbSerial = "usb:v0403p6001d0600dc00dsc00dp00icFFiscFFipFFin00"
	)
	loading := make(chan struct{})
	for _, c := range []struct {
		modalias string
		want     bool
	}{{virtioNet, true}, {pciNIC, true}, {usbSerial, false}} {
		if got := waitForBootNICs(c.modalias, loading); got != c.want {
			t.Errorf("while the boot's NIC drivers load: waitForBootNICs(%s) = %v, want %v", c.modalias, got, c.want)
		}
	}
	close(loading)
	if waitForBootNICs(virtioNet, loading) {
		t.Error("a NIC that appears after the boot's NIC drivers are in waits")
	}
}
