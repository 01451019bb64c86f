package modemsim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
	return string(out)
}

// The simulator raises and lowers the carrier of the veth that plays its
// CDC Ethernet port, inside a namespace, as the data connection changes.
func TestNetdevCarrierInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	pid := os.Getpid()
	nsModem := fmt.Sprintf("msim-modem-%d", pid)
	nsBox := fmt.Sprintf("msim-box-%d", pid)
	va, vb := fmt.Sprintf("msa%d", pid%100000), fmt.Sprintf("msb%d", pid%100000)
	ip(t, "netns", "add", nsModem)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsModem).Run() })
	ip(t, "netns", "add", nsBox)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsBox).Run() })
	ip(t, "-n", nsModem, "link", "add", va, "type", "veth", "peer", "name", vb, "netns", nsBox)
	ip(t, "-n", nsBox, "link", "set", vb, "up")

	carrier, closeFn, err := NetdevCarrier(va, nsModem)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	sim, e := engineOn(t, Config{Profile: "huawei-me909s", Carrier: carrier, ConnectDelay: 10 * time.Millisecond})
	boxCarrier := func() bool {
		return !strings.Contains(ip(t, "-n", nsBox, "link", "show", vb), "NO-CARRIER")
	}
	waitCarrier := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for boxCarrier() != want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if boxCarrier() != want {
			t.Fatalf("box side carrier %v, want %v", !want, want)
		}
	}
	waitCarrier(false)
	ctx := context.Background()
	if _, err := e.Command(ctx, `AT^NDISDUP=1,1,"internet"`, 0); err != nil {
		t.Fatal(err)
	}
	waitCarrier(true)
	sim.DropData()
	waitCarrier(false)
	if _, err := e.Command(ctx, `AT^NDISDUP=1,1,"internet"`, 0); err != nil {
		t.Fatal(err)
	}
	waitCarrier(true)
	sim.Reboot()
	waitCarrier(false)
}
