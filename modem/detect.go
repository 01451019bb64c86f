package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// knownModem is what a USB id tells: the profile and which of the
// device's ttys (ordered by interface number) is the AT control port.
type knownModem struct {
	profile string
	atPort  int // index into the ttys sorted by interface number
}

// knownModems by "vid:pid" (MODEMS.md).
var knownModems = map[string]knownModem{
	"12d1:1573": {"huawei-me909u", 2}, // MU609 or ME909u-521: refined by AT+CGMM
	"12d1:1506": {"huawei-mu609", 2},  // old MU609 firmware, serial only
	"12d1:15c1": {"huawei-me909s", 2},
	"413c:818d": {"dell-dw5550", 0},
	"0bdb:190d": {"ericsson-f5521gw", 0},
	"0bdb:1911": {"ericsson-f5521gw", 0},
	"1199:6812": {"sierra-mc8775", 2}, // ttyUSB0 or ttyUSB2 (unverified): the other is probed next
	"1199:6813": {"sierra-mc8775", 2},
	"1199:6815": {"sierra-mc8775", 2},
	"1199:6816": {"sierra-mc8775", 2},
	"2c7c:0125": {"quectel-ec25", 2},
}

// usbModem is one USB device with its ttys and network interfaces.
type usbModem struct {
	dir      string // sysfs path of the USB device
	vid, pid string
	ports    []PortInfo
	nets     []netIf
}

type netIf struct {
	name, driver string
	iface        int
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// interfaceDir walks up from a device path to the USB interface
// directory (the one with bInterfaceNumber), at most a few levels.
func interfaceDir(p string) (string, bool) {
	for i := 0; i < 4 && p != "/" && p != "."; i++ {
		if _, err := os.Stat(filepath.Join(p, "bInterfaceNumber")); err == nil {
			return p, true
		}
		p = filepath.Dir(p)
	}
	return "", false
}

func driverOf(dir string) string {
	l, err := os.Readlink(filepath.Join(dir, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}

// scanUSB finds the USB devices that have ttys, with their net interfaces.
func scanUSB(sysfs string) (map[string]*usbModem, error) {
	devs := map[string]*usbModem{}
	ttys, err := os.ReadDir(filepath.Join(sysfs, "class", "tty"))
	if err != nil {
		return nil, fmt.Errorf("read %s/class/tty: %w", sysfs, err)
	}
	for _, e := range ttys {
		name := e.Name()
		dev, err := filepath.EvalSymlinks(filepath.Join(sysfs, "class", "tty", name, "device"))
		if err != nil {
			continue // virtual tty
		}
		ifdir, ok := interfaceDir(dev)
		if !ok {
			continue // not USB (ttyS*, serial console): never probed unasked
		}
		usbdir := filepath.Dir(ifdir)
		vid := readTrim(filepath.Join(usbdir, "idVendor"))
		if vid == "" {
			continue
		}
		um := devs[usbdir]
		if um == nil {
			um = &usbModem{dir: usbdir, vid: vid, pid: readTrim(filepath.Join(usbdir, "idProduct"))}
			devs[usbdir] = um
		}
		n, _ := strconv.ParseInt(readTrim(filepath.Join(ifdir, "bInterfaceNumber")), 16, 32)
		um.ports = append(um.ports, PortInfo{Name: name, Interface: int(n), Driver: driverOf(ifdir)})
	}
	nets, _ := os.ReadDir(filepath.Join(sysfs, "class", "net"))
	for _, e := range nets {
		dev, err := filepath.EvalSymlinks(filepath.Join(sysfs, "class", "net", e.Name(), "device"))
		if err != nil {
			continue
		}
		ifdir, ok := interfaceDir(dev)
		if !ok {
			continue
		}
		um := devs[filepath.Dir(ifdir)]
		if um == nil {
			continue
		}
		n, _ := strconv.ParseInt(readTrim(filepath.Join(ifdir, "bInterfaceNumber")), 16, 32)
		um.nets = append(um.nets, netIf{name: e.Name(), driver: driverOf(ifdir), iface: int(n)})
	}
	for _, um := range devs {
		sort.Slice(um.ports, func(i, j int) bool {
			if um.ports[i].Interface != um.ports[j].Interface {
				return um.ports[i].Interface < um.ports[j].Interface
			}
			return um.ports[i].Name < um.ports[j].Name
		})
		sort.Slice(um.nets, func(i, j int) bool { return um.nets[i].iface < um.nets[j].iface })
	}
	return devs, nil
}

// netFor picks the data interface: cdc_ether / cdc_mbim / qmi_wwan ...
func (um *usbModem) netFor() (string, string) {
	for _, n := range um.nets {
		if n.driver == "cdc_ether" || n.driver == "cdc_ncm" {
			return n.name, n.driver
		}
	}
	if len(um.nets) > 0 {
		return um.nets[0].name, um.nets[0].driver
	}
	return "", ""
}

func detect(ctx context.Context, opts DetectOptions) ([]Device, error) {
	if opts.SysfsRoot == "" {
		opts.SysfsRoot = "/sys"
	}
	if opts.DevRoot == "" {
		opts.DevRoot = "/dev"
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OpenPort == nil {
		opts.OpenPort = func(p string) (io.ReadWriteCloser, error) { return OpenSerial(p, 0) }
	}
	devs, err := scanUSB(opts.SysfsRoot)
	if err != nil && opts.Port == "" {
		return nil, err
	}
	if opts.Port != "" {
		return detectConfigured(ctx, opts, devs)
	}
	keys := make([]string, 0, len(devs))
	for k := range devs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Device
	var faulty error
	for _, k := range keys {
		um := devs[k]
		d, err := probeUSB(ctx, opts, um)
		if err != nil {
			var fe *FaultyModemError
			if errors.As(err, &fe) {
				if _, known := knownModems[um.vid+":"+um.pid]; known && faulty == nil {
					faulty = err
				}
				opts.Logger.Warn("modem candidate not answering", "usb", filepath.Base(um.dir), "err", err)
				continue
			}
			return out, err
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		if faulty != nil {
			return nil, faulty
		}
		return nil, ErrNoModem
	}
	return out, nil
}

// probeUSB finds the AT port of one USB device: the known port first,
// then the others, each with AT and a short timeout.
func probeUSB(ctx context.Context, opts DetectOptions, um *usbModem) (Device, error) {
	km, known := knownModems[um.vid+":"+um.pid]
	order := make([]int, 0, len(um.ports))
	if known && km.atPort < len(um.ports) {
		order = append(order, km.atPort)
	}
	for i := range um.ports {
		if !known || i != km.atPort {
			order = append(order, i)
		}
	}
	var tried []string
	var lastErr error
	for _, i := range order {
		port := filepath.Join(opts.DevRoot, um.ports[i].Name)
		info, err := probePort(ctx, opts, port)
		if err != nil {
			tried = append(tried, port+": "+err.Error())
			lastErr = err
			continue
		}
		d := Device{Port: port, VID: um.vid, PID: um.pid, USBPath: filepath.Base(um.dir), Ports: um.ports,
			Manufacturer: info.manufacturer, Model: info.model, Probed: !known}
		d.NetIface, d.NetDriver = um.netFor()
		d.Profile = profileForModel(info.manufacturer, info.model)
		if known && d.Profile == "generic" {
			d.Profile = km.profile
		}
		if opts.Profile != "" {
			d.Profile = opts.Profile
		}
		d.DataPort = dataPort(opts, um.ports, port, d.Profile)
		return d, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no serial ports")
	}
	port := ""
	if len(um.ports) > 0 {
		port = filepath.Join(opts.DevRoot, um.ports[order[0]].Name)
	}
	return Device{}, &FaultyModemError{Port: port, Tried: tried, Err: lastErr}
}

func detectConfigured(ctx context.Context, opts DetectOptions, devs map[string]*usbModem) ([]Device, error) {
	port := devPath(opts, opts.Port)
	d := Device{Port: port}
	for _, um := range devs {
		for _, p := range um.ports {
			if p.Name == filepath.Base(port) {
				d.VID, d.PID, d.USBPath, d.Ports = um.vid, um.pid, filepath.Base(um.dir), um.ports
				d.NetIface, d.NetDriver = um.netFor()
			}
		}
	}
	info, err := probePort(ctx, opts, port)
	if err != nil {
		return nil, &FaultyModemError{Port: port, Tried: []string{port + " (configured): " + err.Error()}, Err: err}
	}
	d.Manufacturer, d.Model = info.manufacturer, info.model
	d.Profile = opts.Profile
	if d.Profile == "" {
		if km, ok := knownModems[d.VID+":"+d.PID]; ok {
			d.Profile = km.profile
		}
		if p := profileForModel(info.manufacturer, info.model); p != "generic" || d.Profile == "" {
			d.Profile = p
		}
	}
	d.DataPort = dataPort(opts, d.Ports, port, d.Profile)
	return []Device{d}, nil
}

// devPath makes a configured port name ("ttyUSB0") a path under DevRoot.
func devPath(opts DetectOptions, port string) string {
	if !strings.HasPrefix(port, "/") {
		return filepath.Join(opts.DevRoot, port)
	}
	return port
}

// dataPort picks the tty pppd dials on: the configured one, else for a
// PPP-only profile the first other tty of the same USB device in interface
// order, which is interface 0 (the modem port: ttyUSB0 of a Sierra
// MC8775) unless that is the AT port. "" means PPP shares the AT port.
func dataPort(opts DetectOptions, ports []PortInfo, atPort, profile string) string {
	if opts.DataPort != "" {
		return devPath(opts, opts.DataPort)
	}
	if !pppOnlyProfile(profile) {
		return ""
	}
	for _, p := range ports { // sorted by interface number (scanUSB)
		if p.Name != filepath.Base(atPort) {
			return filepath.Join(opts.DevRoot, p.Name)
		}
	}
	return ""
}

func pppOnlyProfile(name string) bool {
	f, ok := profileFactories[name]
	return ok && f().PPPOnly()
}

type probeInfo struct{ manufacturer, model string }

// probePort talks AT to port with short timeouts: AT (twice: the first
// may be eaten by noise or a half-typed line), then +CGMI/+CGMM, ATI as
// fallback.
func probePort(ctx context.Context, opts DetectOptions, port string) (probeInfo, error) {
	e := NewEngine(EngineConfig{
		Open:        func() (io.ReadWriteCloser, error) { return opts.OpenPort(port) },
		Timeout:     opts.ProbeTimeout,
		MaxTimeouts: 1 << 30, // probing never escalates
		Logger:      opts.Logger,
	})
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(pctx) }()
	defer func() { cancel(); <-done }()
	var info probeInfo
	var err error
	for i := 0; i < 2; i++ {
		// Sync, not a bare AT: a boot URC already waiting in the port
		// (*EMRDY: 1) must not be paired with a reply.
		if err = e.Sync(pctx); err == nil {
			break
		}
		select {
		case rerr := <-done:
			done <- rerr
			return info, rerr
		default:
		}
	}
	if err != nil {
		return info, fmt.Errorf("AT: %w", err)
	}
	e.Command(pctx, "ATE0", 0)
	if r, err := e.Command(pctx, "AT+CGMI", 0); err == nil {
		info.manufacturer = parseInfoLine(r.Lines, "+CGMI:")
	}
	if r, err := e.Command(pctx, "AT+CGMM", 0); err == nil {
		info.model = parseInfoLine(r.Lines, "+CGMM:")
	}
	if info.manufacturer == "" || info.model == "" {
		if r, err := e.Command(pctx, "ATI", 0); err == nil {
			for _, l := range r.Lines {
				if v, ok := cutPrefixFold(l, "Manufacturer:"); ok && info.manufacturer == "" {
					info.manufacturer = strings.TrimSpace(v)
				}
				if v, ok := cutPrefixFold(l, "Model:"); ok && info.model == "" {
					info.model = strings.TrimSpace(v)
				}
			}
		}
	}
	return info, nil
}
