package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// VMOptions describe one QEMU boot of the disk image: a q35 PC with
// SeaBIOS like the APU's coreboot+SeaBIOS, the i6300esb watchdog, an e1000e
// LAN port with the web UI forwarded to 127.0.0.1, and optionally the
// simulated modem as a USB FTDI serial port plus a usb-net data port.
//
// Every user-mode network is restrict=on: the guest reaches nothing beyond
// QEMU's own DHCP; only the host-forwarded ports come in from 127.0.0.1.
type VMOptions struct {
	Disk        string
	Memory      int    // MiB
	HTTPPort    int    // host port forwarded to the box's LAN port 80
	HTTPSPort   int    // ... and 443
	ModemSocket string // unix socket where modemsim listens ("" for none)
	NoReboot    bool   // a guest reset ends QEMU (to observe watchdog resets)
	Interactive bool   // serial console on this terminal (make run)
	ConsoleLog  string // also write the serial console here

	// Netns runs QEMU inside this network namespace, where the tap
	// interfaces below live (the field day bridges them to veths whose
	// other ends sit in the test's LAN, internet and carrier namespaces).
	Netns string
	// LANTap replaces the LAN port's user-mode network with a tap;
	// WANTap adds a virtio-net WAN port (eth1: its driver loads after
	// e1000e's) on a tap, whose link QEMU's set_link reliably takes down
	// in the guest (an e1000e's did not); LTETap
	// puts the modem's usb-net data port on a tap instead of slirp.
	LANTap, WANTap, LTETap string
	// RTCBase starts the board's clock at this date ("2001-01-01"): a
	// board whose RTC battery is flat.
	RTCBase string
	// LTEGuestFwd adds a guestfwd rule to the modem's user-mode network
	// ("tcp:10.64.64.9:1194-cmd:..."): a server the box reaches over LTE.
	LTEGuestFwd string
	// ICount runs the guest on QEMU's instruction counter (-icount, e.g.
	// "shift=0,sleep=off"; TCG only): the guest's clock then counts the
	// instructions it ran and jumps over its idle waits, not the host's
	// time, so boot phases read on it do not move with the host's load.
	// The clock also jumps over a wait for the disk: the first boot's
	// mke2fs can meet ATA command timeouts (the later boot, which the
	// bench's ms- figures are, did not). sleep=on did not reach init in
	// 3 minutes at a load of 19.
	ICount string
}

// The modem's two USB devices (its AT port and its data port), with ids
// so that a test can pull the modem out (device_del) and put it back
// (device_add the same line).
const (
	modemATDevice  = "usb-serial,bus=xhci.0,chardev=modem,id=modemat"
	modemNetDevice = "usb-net,bus=xhci.0,netdev=lte,id=modemnet"
)

// wanNIC is the WAN port's QEMU device id: `set_link wannic off` on the
// monitor is its cable pulled (the guest sees no carrier).
const wanNIC = "wannic"

// tapNetdev is a -netdev for an existing tap interface (made by the test,
// so QEMU needs no helper scripts).
func tapNetdev(id, ifname string) string {
	return fmt.Sprintf("tap,id=%s,ifname=%s,script=no,downscript=no", id, ifname)
}

// LAN addresses of the qemu board: the box is 192.168.1.1 on its LAN port
// (eth0), QEMU's side of that network is 192.168.1.2.
const (
	qemuLANNet  = "192.168.1.0/24"
	qemuLANBox  = "192.168.1.1"
	qemuLANHost = "192.168.1.2"
	qemuLANMAC  = "52:54:00:ed:9e:01" // the LAN card's (e1000e)
)

// Args returns the qemu-system-x86_64 command line.
func (o VMOptions) Args(monitor string) []string {
	mem := o.Memory
	if mem == 0 {
		mem = 1024
	}
	accel := "tcg"
	if kvmUsable() {
		accel = "kvm"
	}
	lan := fmt.Sprintf("user,id=lan,restrict=on,net=%s,host=%s,dhcpstart=192.168.1.100", qemuLANNet, qemuLANHost)
	if o.HTTPPort != 0 {
		lan += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-%s:80", o.HTTPPort, qemuLANBox)
	}
	if o.HTTPSPort != 0 {
		lan += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-%s:443", o.HTTPSPort, qemuLANBox)
	}
	if o.LANTap != "" {
		lan = tapNetdev("lan", o.LANTap)
	}
	args := []string{
		"-M", "q35", "-accel", accel, "-m", fmt.Sprint(mem), "-smp", "1",
		"-drive", "file=" + o.Disk + ",format=raw,if=ide,index=0",
		"-device", "i6300esb", "-action", "watchdog=reset",
		"-netdev", lan, "-device", "e1000e,netdev=lan,mac=" + qemuLANMAC,
	}
	if o.WANTap != "" {
		args = append(args, "-netdev", tapNetdev("wan", o.WANTap), "-device", "virtio-net-pci,netdev=wan,id="+wanNIC+",mac=52:54:00:ed:9e:02")
	}
	args = append(args, "-device", "qemu-xhci,id=xhci")
	if o.ModemSocket != "" {
		lte := "user,id=lte,restrict=on,net=10.64.64.0/24"
		if o.LTEGuestFwd != "" {
			lte += ",guestfwd=" + o.LTEGuestFwd
		}
		if o.LTETap != "" {
			lte = tapNetdev("lte", o.LTETap)
		}
		args = append(args,
			"-chardev", "socket,id=modem,path="+o.ModemSocket+",reconnect=1",
			"-device", modemATDevice,
			"-netdev", lte,
			"-device", modemNetDevice)
	}
	if o.ICount != "" && accel == "tcg" {
		args = append(args, "-icount", o.ICount)
	}
	if o.NoReboot {
		args = append(args, "-no-reboot")
	}
	if o.RTCBase != "" {
		args = append(args, "-rtc", "base="+o.RTCBase)
	}
	if o.Interactive {
		args = append(args, "-nographic")
	} else {
		args = append(args, "-display", "none", "-vga", "none", "-serial", "stdio")
	}
	if monitor != "" {
		args = append(args, "-monitor", "unix:"+monitor+",server=on,wait=off")
	}
	return args
}

// kvmUsable says whether hardware virtualisation will really run the
// guest: /dev/kvm must open and be backed by kvm_intel or kvm_amd (other KVM
// flavours, such as PVM in some clouds, cannot run SeaBIOS's real mode).
// EDGEBOX_QEMU_ACCEL=tcg or kvm overrides.
func kvmUsable() bool {
	switch os.Getenv("EDGEBOX_QEMU_ACCEL") {
	case "tcg":
		return false
	case "kvm":
		return true
	}
	_, intel := os.Stat("/sys/module/kvm_intel")
	_, amd := os.Stat("/sys/module/kvm_amd")
	if intel != nil && amd != nil {
		return false
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// VM is a running QEMU.
type VM struct {
	cmd     *exec.Cmd
	monitor string
	mu      sync.Mutex
	console strings.Builder
	changed chan struct{} // closed and replaced on each console line
	done    chan struct{}
	err     error
}

// StartVM boots the image headless, capturing the serial console.
func StartVM(o VMOptions) (*VM, error) {
	dir, err := os.MkdirTemp("", "edgebox-vm-")
	if err != nil {
		return nil, err
	}
	v := &VM{monitor: filepath.Join(dir, "monitor.sock"), changed: make(chan struct{}), done: make(chan struct{})}
	v.cmd = exec.Command("qemu-system-x86_64", o.Args(v.monitor)...)
	if o.Netns != "" {
		// ip netns exec execs QEMU: the pid stays QEMU's, so Kill is a power cut.
		v.cmd = exec.Command("ip", append([]string{"netns", "exec", o.Netns, "qemu-system-x86_64"}, o.Args(v.monitor)...)...)
	}
	out, err := v.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	v.cmd.Stderr = v.cmd.Stdout
	var logf io.Writer = io.Discard
	if o.ConsoleLog != "" {
		if f, err := os.Create(o.ConsoleLog); err == nil {
			logf = f
			defer func() { go func() { <-v.done; f.Close() }() }()
		}
	}
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				logf.Write([]byte(line))
				v.mu.Lock()
				v.console.WriteString(strings.ReplaceAll(line, "\r", ""))
				close(v.changed)
				v.changed = make(chan struct{})
				v.mu.Unlock()
			}
			if err != nil {
				break
			}
		}
		v.err = v.cmd.Wait()
		os.RemoveAll(dir)
		close(v.done)
	}()
	return v, nil
}

// Console returns everything the serial console printed so far.
func (v *VM) Console() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.console.String()
}

// WaitConsole waits until the console has printed s (after byte offset
// from), returning the offset just past it.
func (v *VM) WaitConsole(s string, from int, timeout time.Duration) (int, error) {
	deadline := time.After(timeout)
	for {
		v.mu.Lock()
		text, changed := v.console.String(), v.changed
		v.mu.Unlock()
		if from <= len(text) {
			if i := strings.Index(text[from:], s); i >= 0 {
				return from + i + len(s), nil
			}
		}
		select {
		case <-changed:
		case <-v.done:
			return 0, fmt.Errorf("qemu exited before the console said %q", s)
		case <-deadline:
			return 0, fmt.Errorf("console did not say %q within %v", s, timeout)
		}
	}
}

// Monitor sends one command to QEMU's human monitor.
func (v *VM) Monitor(cmd string) error {
	var c net.Conn
	var err error
	for range 50 { // the socket appears shortly after start
		if c, err = net.Dial("unix", v.monitor); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(cmd + "\n"))
	time.Sleep(200 * time.Millisecond) // let QEMU read it before we hang up
	return err
}

// Wait waits for QEMU to exit by itself.
func (v *VM) Wait(timeout time.Duration) error {
	select {
	case <-v.done:
		return nil
	case <-time.After(timeout):
		return errors.New("qemu still running")
	}
}

// Exited reports whether QEMU has exited.
func (v *VM) Exited() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// Kill stops QEMU at once (a power cut).
func (v *VM) Kill() {
	if v.cmd.Process != nil {
		v.cmd.Process.Kill()
	}
	<-v.done
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RunOptions are for `make run`.
type RunOptions struct {
	Dir                 string
	HTTPPort, HTTPSPort int
	ModemProfile        string
	// ModemPIN is the simulated SIM's PIN ("" for none).
	ModemPIN string
}

// Rehearsal sockets under Dir/build: the modem simulator's control
// socket and a second QEMU monitor (mkimage ctl talks to both).
const (
	ModemControlSocket = "modem-control.sock"
	MonitorSocket      = "qemu-monitor.sock"
)

// Run boots out/edgebox.img interactively: serial console on this terminal,
// the simulated modem attached, a WAN port on QEMU's user network, web UI
// on 127.0.0.1.
func Run(ctx context.Context, o RunOptions) error {
	disk := filepath.Join(o.Dir, "edgebox.img")
	if _, err := os.Stat(disk); err != nil {
		return fmt.Errorf("%s: build it first with make image", disk)
	}
	vm := VMOptions{Disk: disk, HTTPPort: o.HTTPPort, HTTPSPort: o.HTTPSPort, Interactive: true}
	if o.ModemProfile != "" {
		sim, sock, err := startModemsim(ctx, o.Dir, o.ModemProfile, o.ModemPIN)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkimage: no simulated modem: %v\n", err)
		} else {
			defer sim.Process.Kill()
			vm.ModemSocket = sock
		}
	}
	mon := filepath.Join(o.Dir, "build", MonitorSocket)
	os.Remove(mon)
	// The WAN port (cable pulled with set_link) and a monitor of its own,
	// beside the console's Ctrl-A C one, for mkimage ctl.
	args := append(vm.Args(""),
		"-netdev", "user,id=wan,restrict=on,net=10.0.3.0/24",
		"-device", "virtio-net-pci,netdev=wan,id="+wanNIC+",mac=52:54:00:ed:9e:02",
		"-chardev", "socket,id=ctlmon,path="+mon+",server=on,wait=off",
		"-mon", "chardev=ctlmon,mode=readline",
		// a -mon turns -nographic's console monitor off: keep it, or Ctrl-A X does not quit
		"-serial", "mon:stdio")
	fmt.Printf("\n  edgebox is booting under QEMU (%s).\n", map[bool]string{true: "KVM", false: "TCG, no KVM: about 10-20 s"}[kvmUsable()])
	fmt.Printf("  Web UI:  http://127.0.0.1:%d   https://127.0.0.1:%d\n", o.HTTPPort, o.HTTPSPort)
	if vm.ModemSocket != "" {
		ctl := "go run ./cmd/mkimage ctl"
		if o.Dir != "out" {
			ctl += " -out " + o.Dir
		}
		if o.ModemPIN != "" {
			fmt.Printf("  SIM PIN: %s (the simulated SIM asks for it: enter it in the setup's mobile step)\n", o.ModemPIN)
		}
		fmt.Printf("  Rehearse from another terminal:\n")
		fmt.Printf("    %s sms +4915112345678 Hello from the network   # an SMS arrives\n", ctl)
		fmt.Printf("    %s drop                  # the network drops the data connection\n", ctl)
		fmt.Printf("    %s reg searching         # the modem loses the network (reg home: back)\n", ctl)
		fmt.Printf("    %s wan off               # the WAN cable is pulled (wan on: plugged in)\n", ctl)
		fmt.Printf("    %s help                  # every modem fault\n", ctl)
	}
	fmt.Printf("  Settings survive a reboot inside QEMU; make run rebuilds the image: a new box.\n")
	fmt.Printf("  To quit: press Ctrl-A, then X.\n\n")
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}

// startModemsim builds and starts the modem simulator listening on a unix
// socket for QEMU's usb-serial chardev, with its control socket beside it
// and the SIM locked with pin (if given).
func startModemsim(ctx context.Context, dir, profile, pin string) (*exec.Cmd, string, error) {
	bin := filepath.Join(dir, "build", "tools", "modemsim")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/modemsim").CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("build modemsim: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "build", "modem.sock")
	os.Remove(sock)
	args := []string{"--profile", profile, "--listen", sock, "--control", filepath.Join(dir, "build", ModemControlSocket)}
	if pin != "" {
		args = append(args, "--pin", pin)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	for range 50 {
		if _, err := os.Stat(sock); err == nil {
			return cmd, sock, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	return nil, "", errors.New("modemsim did not create its socket")
}
