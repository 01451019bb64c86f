package modemsim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
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
	testenv.RequireRoot(t, "ip")
	pid := os.Getpid()
	nsModem := testenv.NewNetns(t, fmt.Sprintf("msim-modem-%d", pid)).Name
	nsBox := testenv.NewNetns(t, fmt.Sprintf("msim-box-%d", pid)).Name
	va, vb := fmt.Sprintf("msa%d", pid%100000), fmt.Sprintf("msb%d", pid%100000)
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
		testenv.Until(5*time.Second, "the box side carrier", testenv.Cond(func() bool { return boxCarrier() == want }))
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
