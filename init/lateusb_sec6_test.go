package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/internal/firewall"
	"edgebox/internal/testenv"
)

// TestSec6LateUSBDeviceLosesTheLANName: on a board that knows its ports
// by kernel name, the boot table names a LAN port whose driver has not
// registered it yet by that name. A USB network device that registered
// the name later (a modem's CDC Ethernet, any stick) got the LAN's
// accepts: the setup page, DHCP and DNS reached from the mobile network,
// until netctl's table came, or for good without netctl (fifth review
// left it). init now watches the links and reloads the boot table
// without such a device, only while the boot table is in. In namespaces:
// the box's table loaded first, then a device the (fake) sysfs calls USB
// registers the LAN's name. Sixth review.
func TestSec6LateUSBDeviceLosesTheLANName(t *testing.T) {
	testenv.RequireRoot(t, "ip")
	box := testenv.NewNetns(t, testenv.UniqueName("fub"))
	peer := testenv.NewNetns(t, testenv.UniqueName("fup"))
	board := boards.Profile{Name: "test", NICs: []boards.NIC{{Role: "wan", Name: "ebw6"}, {Role: "lan1", Name: "ebl6"}}}
	n := config.DefaultNetwork() // lan1 at 192.168.1.1/24, management 22, 80, 443
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := box.Do(func() error { bootFirewall(n, board, quiet); return nil }); err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	if err := box.Do(func() (err error) { l, err = net.Listen("tcp4", "0.0.0.0:80"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	sysRoot := t.TempDir() // no ebl6 yet: it stands in for a NIC still loading
	h := box.Handle()
	stop := make(chan struct{})
	guarded := make(chan struct{})
	defer func() { close(stop); <-guarded }()
	subscribe := func(ch chan<- netlink.LinkUpdate, _ <-chan struct{}) error {
		return netlink.LinkSubscribeWithOptions(ch, stop, netlink.LinkSubscribeOptions{Namespace: &h})
	}
	reload := func(n config.Network, roles map[string]string) (p firewall.BootPlan, in bool, err error) {
		err = box.Do(func() (err error) { p, in, err = firewall.ReloadBoot(n, roles); return err })
		return p, in, err
	}
	go func() { defer close(guarded); guardStandIns(n, board, sysRoot, quiet, subscribe, reload) }()
	time.Sleep(100 * time.Millisecond) // subscribed

	// A USB device registers the LAN port's kernel name.
	dev := filepath.Join(sysRoot, "devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0")
	os.MkdirAll(dev, 0o755)
	os.MkdirAll(filepath.Join(sysRoot, "class/net/ebl6"), 0o755)
	if err := os.Symlink(dev, filepath.Join(sysRoot, "class/net/ebl6/device")); err != nil {
		t.Fatal(err)
	}
	box.Veth("ebl6", "192.168.1.1/24", peer, "pu6", "192.168.1.2/24")

	var err error
	for range 10 {
		err = peer.Do(func() error {
			c, err := net.DialTimeout("tcp4", "192.168.1.1:80", time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("from the USB device holding the LAN port's name, the setup page answers (%v), want dropped", err)
	}

	// Once netctl's table is in (no boot marker), a reload changes nothing.
	if err := box.Do(func() error {
		c, tb, err := firewall.Replace()
		if err != nil {
			return err
		}
		firewall.BaseChain(c, tb, "input", nftables.ChainHookInput)
		if err := c.Flush(); err != nil {
			return err
		}
		_, in, err := firewall.ReloadBoot(n, map[string]string{"lan1": "ebl6"})
		if err != nil || in {
			t.Errorf("ReloadBoot over netctl's table: reloaded=%v err=%v, want false and no error", in, err)
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Table.Name == firewall.Table && ch.Name != "input" {
				t.Errorf("netctl's table has chain %q after ReloadBoot: the boot table was loaded over it", ch.Name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
