package modem_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// fakeSysfs builds a sysfs tree shaped like the kernel's.
type fakeSysfs struct {
	t    *testing.T
	root string
}

func newFakeSysfs(t *testing.T) *fakeSysfs {
	root := t.TempDir()
	for _, d := range []string{"class/tty", "class/net", "bus/usb/drivers/option", "bus/usb/drivers/cdc_acm", "bus/usb/drivers/cdc_ether", "bus/usb/drivers/sierra", "bus/usb/drivers/qmi_wwan"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	f := &fakeSysfs{t: t, root: root}
	// A serial console and a virtual tty that must never be probed.
	plat := filepath.Join(root, "devices/platform/serial8250")
	os.MkdirAll(filepath.Join(plat, "tty/ttyS0"), 0o755)
	f.link(filepath.Join(root, "class/tty/ttyS0"), filepath.Join(plat, "tty/ttyS0"))
	f.link(filepath.Join(plat, "tty/ttyS0/device"), plat)
	os.MkdirAll(filepath.Join(root, "devices/virtual/tty/console"), 0o755)
	f.link(filepath.Join(root, "class/tty/console"), filepath.Join(root, "devices/virtual/tty/console"))
	return f
}

// link makes a relative symlink at from pointing to to.
func (f *fakeSysfs) link(from, to string) {
	rel, err := filepath.Rel(filepath.Dir(from), to)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(rel, from); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeSysfs) write(p, s string) {
	if err := os.WriteFile(p, []byte(s+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// usbDevice adds a USB device at port path "1-1.N" with interfaces.
type usbIf struct {
	num    int
	driver string
	tty    string // ttyUSBn or ttyACMn
	net    string
}

func (f *fakeSysfs) usbDevice(name, vid, pid string, ifs []usbIf) {
	dev := filepath.Join(f.root, "devices/pci0000:00/0000:00:13.0/usb1/1-1", name)
	os.MkdirAll(dev, 0o755)
	f.write(filepath.Join(dev, "idVendor"), vid)
	f.write(filepath.Join(dev, "idProduct"), pid)
	for _, i := range ifs {
		ifd := filepath.Join(dev, fmt.Sprintf("%s:1.%d", name, i.num))
		os.MkdirAll(ifd, 0o755)
		f.write(filepath.Join(ifd, "bInterfaceNumber"), fmt.Sprintf("%02x", i.num))
		f.link(filepath.Join(ifd, "driver"), filepath.Join(f.root, "bus/usb/drivers", i.driver))
		switch {
		case i.tty != "" && i.driver == "cdc_acm":
			// cdc_acm: the tty's device is the interface itself.
			td := filepath.Join(ifd, "tty", i.tty)
			os.MkdirAll(td, 0o755)
			f.link(filepath.Join(td, "device"), ifd)
			f.link(filepath.Join(f.root, "class/tty", i.tty), td)
		case i.tty != "":
			// usb-serial: interface/ttyUSBn/tty/ttyUSBn, device -> interface/ttyUSBn
			port := filepath.Join(ifd, i.tty)
			td := filepath.Join(port, "tty", i.tty)
			os.MkdirAll(td, 0o755)
			f.link(filepath.Join(td, "device"), port)
			f.link(filepath.Join(f.root, "class/tty", i.tty), td)
		}
		if i.net != "" {
			nd := filepath.Join(ifd, "net", i.net)
			os.MkdirAll(nd, 0o755)
			f.link(filepath.Join(nd, "device"), ifd)
			f.link(filepath.Join(f.root, "class/net", i.net), nd)
		}
	}
}

// ports maps fake /dev paths to simulated modems and records opens.
type ports struct {
	mu     sync.Mutex
	m      map[string]string
	opened []string
}

func (p *ports) open(path string) (io.ReadWriteCloser, error) {
	p.mu.Lock()
	p.opened = append(p.opened, path)
	pty, ok := p.m[path]
	p.mu.Unlock()
	if !ok {
		// A port that exists but where nothing answers.
		return silentPort(), nil
	}
	return modem.OpenSerial(pty, 0)
}

type silent struct {
	closed chan struct{}
	once   sync.Once
}

func silentPort() *silent { return &silent{closed: make(chan struct{})} }
func (s *silent) Read(b []byte) (int, error) {
	<-s.closed
	return 0, io.EOF
}
func (s *silent) Write(b []byte) (int, error) { return len(b), nil }
func (s *silent) Close() error                { s.once.Do(func() { close(s.closed) }); return nil }

func huaweiIfs() []usbIf {
	return []usbIf{{0, "option", "ttyUSB0", ""}, {1, "option", "ttyUSB1", ""}, {2, "option", "ttyUSB2", ""}, {6, "cdc_ether", "", "usb0"}}
}

func TestDetectHuaweiByUSBID(t *testing.T) {
	f := newFakeSysfs(t)
	f.usbDevice("1-1.3", "12d1", "1573", huaweiIfs())
	_, pty := startSim(t, modemsim.Config{Profile: "huawei-mu609"})
	p := &ports{m: map[string]string{"/dev/ttyUSB2": pty}}
	devs, err := modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, ProbeTimeout: 300 * time.Millisecond, OpenPort: p.open})
	if err != nil {
		t.Fatal(err)
	}
	d := devs[0]
	if len(devs) != 1 || d.Port != "/dev/ttyUSB2" || d.NetIface != "usb0" || d.NetDriver != "cdc_ether" || d.Profile != "huawei-mu609" || d.VID != "12d1" || d.PID != "1573" || d.USBPath != "1-1.3" || len(d.Ports) != 3 || d.Probed {
		t.Fatalf("device %+v", devs)
	}
	for _, o := range p.opened {
		if o != "/dev/ttyUSB2" {
			t.Fatalf("opened %s before the PCUI port answered", o)
		}
	}
}

func TestDetectEricssonACMAndUnknownProbed(t *testing.T) {
	f := newFakeSysfs(t)
	f.usbDevice("1-1.2", "0bdb", "190d", []usbIf{{1, "cdc_acm", "ttyACM0", ""}, {3, "cdc_acm", "ttyACM1", ""}, {9, "cdc_acm", "ttyACM2", ""}, {6, "cdc_ether", "", "wwan0"}})
	f.usbDevice("1-1.4", "1234", "5678", []usbIf{{0, "option", "ttyUSB3", ""}, {4, "qmi_wwan", "", "wwan1"}})
	_, e := startSim(t, modemsim.Config{Profile: "ericsson-f5521gw"})
	_, q := startSim(t, modemsim.Config{Profile: "quectel-ec25"})
	p := &ports{m: map[string]string{"/dev/ttyACM0": e, "/dev/ttyUSB3": q}}
	devs, err := modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, ProbeTimeout: 300 * time.Millisecond, OpenPort: p.open})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("devices %+v", devs)
	}
	if d := devs[0]; d.Port != "/dev/ttyACM0" || d.NetIface != "wwan0" || d.Profile != "ericsson-f5521gw" {
		t.Fatalf("ericsson %+v", d)
	}
	if d := devs[1]; d.Port != "/dev/ttyUSB3" || !d.Probed || d.Profile != "quectel-ec25" || d.NetIface != "wwan1" || d.NetDriver != "qmi_wwan" || d.Model != "EC25" {
		t.Fatalf("probed %+v", d)
	}
	for _, o := range p.opened {
		if o == "/dev/ttyS0" || o == "/dev/console" {
			t.Fatalf("probed %s", o)
		}
	}
}

func TestDetectDeadModemIsFaulty(t *testing.T) {
	f := newFakeSysfs(t)
	f.usbDevice("1-1.3", "12d1", "15c1", huaweiIfs())
	p := &ports{m: map[string]string{}}
	_, err := modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, ProbeTimeout: 100 * time.Millisecond, OpenPort: p.open})
	var fe *modem.FaultyModemError
	if !errors.As(err, &fe) {
		t.Fatalf("want FaultyModemError, got %v", err)
	}
	if len(fe.Tried) != 3 || fe.Port != "/dev/ttyUSB2" {
		t.Fatalf("faulty report %+v", fe)
	}
	if len(p.opened) != 3 {
		t.Fatalf("opened %v: must try each port once, not loop", p.opened)
	}
}

func TestDetectConfiguredPortOverrides(t *testing.T) {
	f := newFakeSysfs(t)
	f.usbDevice("1-1.3", "12d1", "1573", huaweiIfs())
	_, pty := startSim(t, modemsim.Config{Profile: "huawei-me909u"})
	p := &ports{m: map[string]string{"/dev/ttyUSB0": pty}}
	devs, err := modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, Port: "ttyUSB0", ProbeTimeout: 300 * time.Millisecond, OpenPort: p.open})
	if err != nil {
		t.Fatal(err)
	}
	if d := devs[0]; d.Port != "/dev/ttyUSB0" || d.NetIface != "usb0" || d.Profile != "huawei-me909u" {
		t.Fatalf("device %+v", d)
	}
	if len(p.opened) != 1 {
		t.Fatalf("opened %v", p.opened)
	}
	// A configured port that never answers is reported, with the port.
	_, err = modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, Port: "/dev/ttyUSB1", ProbeTimeout: 100 * time.Millisecond, OpenPort: p.open})
	var fe *modem.FaultyModemError
	if !errors.As(err, &fe) || fe.Port != "/dev/ttyUSB1" {
		t.Fatalf("want faulty ttyUSB1, got %v", err)
	}
}

func TestDetectNoModem(t *testing.T) {
	f := newFakeSysfs(t)
	_, err := modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, OpenPort: (&ports{}).open})
	if !errors.Is(err, modem.ErrNoModem) {
		t.Fatalf("got %v", err)
	}
}
