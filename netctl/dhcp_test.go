package netctl

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"edgebox/internal/testenv"
)

// fakeDHCP is a server the client talks to through dhcpTransport.
type fakeDHCP struct {
	mu        sync.Mutex
	up        bool // answers at all
	nak       bool
	discovers int
	renews    int // unicast
	rebinds   int // broadcast
	lease     uint32
}

func (f *fakeDHCP) reply(t1, t2 time.Duration) *dhcpv4.DHCPv4 {
	m, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(10, 0, 0, 7)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 0, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 0, 1))), dhcpv4.WithLeaseTime(f.lease),
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(t1)), dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(t2)))
	return m
}

func (f *fakeDHCP) Discover(ctx context.Context) (*dhcpv4.DHCPv4, error) {
	f.mu.Lock()
	f.discovers++
	up := f.up
	f.mu.Unlock()
	if !up {
		silent(ctx)
		return nil, nclient4.ErrNoResponse
	}
	return f.reply(time.Second, 2*time.Second), nil
}

func (f *fakeDHCP) Renew(ctx context.Context, l *dhcpLease, broadcast bool) (*dhcpv4.DHCPv4, error) {
	f.mu.Lock()
	if broadcast {
		f.rebinds++
	} else {
		f.renews++
	}
	up, nak := f.up, f.nak
	f.mu.Unlock()
	if nak {
		m, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))
		return nil, &nclient4.ErrNak{Nak: m}
	}
	if !up {
		silent(ctx)
		return nil, errors.New("no answer")
	}
	return f.reply(time.Second, 2*time.Second), nil
}

// silent is a server that does not answer: the exchange times out (the
// real transport retransmits for about that long).
func silent(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(300 * time.Millisecond):
	}
}

func (f *fakeDHCP) counts() (int, int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.discovers, f.renews, f.rebinds
}

type events struct {
	mu     sync.Mutex
	leases int
	losses []string
}

// TestDHCPClientLifecycle: bound, renewed at T1 by unicast, rebinding by
// broadcast after T2 when the server is silent, lost at expiry, and bound
// again by DISCOVER when the server returns; a NAK drops the lease at once.
func TestDHCPClientLifecycle(t *testing.T) {
	t.Parallel()
	srv := &fakeDHCP{up: true, lease: 10}
	c := newDHCPClient(srv, slog.New(slog.DiscardHandler))
	c.Retry = time.Second
	ev := &events{}
	c.OnLease = func(*dhcpLease) { ev.mu.Lock(); ev.leases++; ev.mu.Unlock() }
	c.OnLoss = func(r string) { ev.mu.Lock(); ev.losses = append(ev.losses, r); ev.mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not stop")
		}
	}()
	if c.Status().State != dhcpNoCarrier {
		t.Fatalf("state without carrier: %s", c.Status().State)
	}
	c.SetCarrier(true)
	testenv.WaitFor(t, 3*time.Second, "bound", testenv.Cond(func() bool { return c.Status().State == dhcpBound }))
	testenv.WaitFor(t, 3*time.Second, "unicast renew at T1", testenv.Cond(func() bool { _, r, _ := srv.counts(); return r >= 1 && c.Status().Renewals >= 1 }))

	srv.mu.Lock()
	srv.up = false
	srv.mu.Unlock()
	testenv.WaitFor(t, 5*time.Second, "rebinding", testenv.Cond(func() bool { return c.Status().State == dhcpRebinding }))
	testenv.WaitFor(t, 12*time.Second, "expiry", testenv.Cond(func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return len(ev.losses) == 1 && ev.losses[0] == "lease expired"
	}))
	if _, _, rb := srv.counts(); rb == 0 {
		t.Error("no broadcast rebind before expiry")
	}
	if st := c.Status(); st.Lease != nil || st.State != dhcpSelecting {
		t.Errorf("after expiry: %+v", st)
	}
	srv.mu.Lock()
	srv.up = true
	srv.mu.Unlock()
	testenv.WaitFor(t, 5*time.Second, "bound again", testenv.Cond(func() bool { return c.Status().State == dhcpBound }))

	// NAK on renewal: lease dropped at once.
	srv.mu.Lock()
	srv.nak = true
	srv.mu.Unlock()
	testenv.WaitFor(t, 4*time.Second, "NAK loss", testenv.Cond(func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return len(ev.losses) == 2
	}))
	srv.mu.Lock()
	srv.nak = false
	srv.mu.Unlock()
	testenv.WaitFor(t, 5*time.Second, "bound after NAK", testenv.Cond(func() bool { return c.Status().State == dhcpBound }))

	// Carrier loss: exchanges stop; the lease is kept and confirmed by
	// broadcast when the carrier returns.
	c.SetCarrier(false)
	testenv.WaitFor(t, 3*time.Second, "no-carrier", testenv.Cond(func() bool { return c.Status().State == dhcpNoCarrier }))
	if c.Status().Lease == nil {
		t.Error("lease dropped on carrier loss (it must survive until expiry)")
	}
	_, _, rb0 := srv.counts()
	c.SetCarrier(true)
	testenv.WaitFor(t, 3*time.Second, "confirmed after carrier", testenv.Cond(func() bool {
		_, _, rb := srv.counts()
		return rb > rb0 && c.Status().State == dhcpBound
	}))
}

// TestDHCPClientExpiresWithoutCarrier: a lease runs out even while the link
// is down, so a stale address does not linger.
func TestDHCPClientExpiresWithoutCarrier(t *testing.T) {
	t.Parallel()
	srv := &fakeDHCP{up: true, lease: 10}
	c := newDHCPClient(srv, slog.New(slog.DiscardHandler))
	lost := make(chan string, 4)
	c.OnLoss = func(r string) { lost <- r }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	c.SetCarrier(true)
	testenv.WaitFor(t, 3*time.Second, "bound", testenv.Cond(func() bool { return c.Status().State == dhcpBound }))
	c.SetCarrier(false)
	select {
	case r := <-lost:
		if r != "lease expired" {
			t.Fatalf("loss reason %q", r)
		}
	case <-time.After(13 * time.Second):
		t.Fatal("lease never expired without carrier")
	}
}
