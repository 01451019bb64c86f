package netctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// DHCP client states, as the API shows them.
const (
	dhcpNoCarrier = "no-carrier"
	dhcpSelecting = "selecting"
	dhcpBound     = "bound"
	dhcpRenewing  = "renewing"
	dhcpRebinding = "rebinding"
	dhcpStopped   = "stopped"
)

// dhcpTransport performs single DHCP exchanges; the real one speaks on an
// interface (dhcp_linux.go), tests use a fake.
type dhcpTransport interface {
	// Discover runs DISCOVER/OFFER/REQUEST/ACK and returns the ACK.
	Discover(ctx context.Context) (*dhcpv4.DHCPv4, error)
	// Renew asks to extend the lease of ack: unicast to its server when
	// renewing, broadcast when rebinding. A NAK is an *nclient4.ErrNak.
	Renew(ctx context.Context, l *dhcpLease, broadcast bool) (*dhcpv4.DHCPv4, error)
}

// dhcpClient keeps one interface's DHCPv4 lease: it acquires it when the
// carrier is up, renews it at T1, rebinds at T2 and gives it up at expiry.
// It reports through OnLease (bound or renewed with new settings) and
// OnLoss (the address must go). One goroutine (Run) owns the lease.
type dhcpClient struct {
	Transport dhcpTransport
	OnLease   func(*dhcpLease)
	OnLoss    func(reason string)
	Log       *slog.Logger
	// Retry bounds the wait between failed discovers (doubles from 1s).
	Retry time.Duration

	carrierMu sync.Mutex
	carrier   bool
	wake      chan struct{}

	mu       sync.Mutex
	state    string
	lease    *dhcpLease
	renewals int
	lastErr  string
}

// newDHCPClient returns a client using t; call Run.
func newDHCPClient(t dhcpTransport, log *slog.Logger) *dhcpClient {
	if log == nil {
		log = slog.Default()
	}
	return &dhcpClient{Transport: t, Log: log, Retry: 30 * time.Second, wake: make(chan struct{}, 1), state: dhcpNoCarrier}
}

// SetCarrier tells the client whether the link has carrier.
func (c *dhcpClient) SetCarrier(up bool) {
	c.carrierMu.Lock()
	c.carrier = up
	c.carrierMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *dhcpClient) hasCarrier() bool {
	c.carrierMu.Lock()
	defer c.carrierMu.Unlock()
	return c.carrier
}

// dhcpStatus is a snapshot of the client.
type dhcpStatus struct {
	State    string
	Lease    *dhcpLease
	Renewals int
	LastErr  string
}

// Status returns the current state and lease (a copy).
func (c *dhcpClient) Status() dhcpStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := dhcpStatus{State: c.state, Renewals: c.renewals, LastErr: c.lastErr}
	if c.lease != nil {
		l := *c.lease
		st.Lease = &l
	}
	return st
}

func (c *dhcpClient) set(state string, l *dhcpLease, err error) {
	c.mu.Lock()
	c.state = state
	c.lease = l
	if err != nil {
		c.lastErr = err.Error()
	}
	c.mu.Unlock()
}

// errCarrierLost ends an exchange whose link went away.
var errCarrierLost = errors.New("carrier lost")

// sleep waits d, returning early with errCarrierLost when the carrier
// drops, or with ctx's error.
func (c *dhcpClient) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if !c.hasCarrier() {
			return errCarrierLost
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-c.wake:
		}
	}
}

// exchange runs fn bounded by timeout and aborted when the carrier drops.
func (c *dhcpClient) exchange(ctx context.Context, timeout time.Duration, fn func(context.Context) (*dhcpv4.DHCPv4, error)) (*dhcpv4.DHCPv4, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-c.wake:
				if !c.hasCarrier() {
					cancel()
					return
				}
			}
		}
	}()
	ack, err := fn(ctx)
	if err != nil && !c.hasCarrier() {
		return nil, errCarrierLost
	}
	return ack, err
}

// Run keeps the lease until ctx ends. The lease is not released on exit:
// the box may reboot into the same address.
func (c *dhcpClient) Run(ctx context.Context) {
	defer c.set(dhcpStopped, nil, nil)
	var lease *dhcpLease
	drop := func(reason string) {
		if lease != nil {
			c.Log.Info("dhcp lease lost", "address", lease.Address, "reason", reason)
			lease = nil
			if c.OnLoss != nil {
				c.OnLoss(reason)
			}
		}
	}
	for ctx.Err() == nil {
		if !c.hasCarrier() {
			c.set(dhcpNoCarrier, lease, nil)
			var expire <-chan time.Time
			var t *time.Timer
			if lease != nil {
				t = time.NewTimer(time.Until(lease.ExpiresAt()))
				expire = t.C
			}
			select {
			case <-ctx.Done():
				return
			case <-c.wake:
			case <-expire:
				drop("lease expired")
			}
			if t != nil {
				t.Stop()
			}
			continue
		}
		if lease != nil && time.Now().After(lease.ExpiresAt()) {
			drop("lease expired")
		}
		if lease != nil {
			// Back from a carrier loss with a lease still valid: confirm it
			// by broadcast (INIT-REBOOT), else start over.
			c.set(dhcpRebinding, lease, nil)
			ack, err := c.exchange(ctx, 4*time.Second, func(ctx context.Context) (*dhcpv4.DHCPv4, error) {
				return c.Transport.Renew(ctx, lease, true)
			})
			if errors.Is(err, errCarrierLost) {
				continue
			}
			if nl, lerr := leaseFrom(ack, err); lerr == nil {
				lease = c.bound(lease, nl)
			} else {
				drop("lease not confirmed after carrier returned: " + lerr.Error())
			}
		}
		if lease == nil {
			l, err := c.discover(ctx)
			if err != nil {
				continue // carrier lost or ctx done
			}
			lease = c.bound(nil, l)
		}
		// Bound: renew at T1, rebind at T2, expire.
		if err := c.keep(ctx, &lease, drop); err != nil {
			continue
		}
	}
}

func leaseFrom(ack *dhcpv4.DHCPv4, err error) (*dhcpLease, error) {
	if err != nil {
		return nil, err
	}
	return leaseFromACK(ack, time.Now())
}

// bound installs a new or renewed lease and reports it.
func (c *dhcpClient) bound(old, l *dhcpLease) *dhcpLease {
	c.mu.Lock()
	if old != nil {
		c.renewals++
	}
	c.mu.Unlock()
	c.set(dhcpBound, l, nil)
	if old == nil || !old.addrConfig.Equal(l.addrConfig) {
		c.Log.Info("dhcp lease", "address", l.Address, "gateway", l.Gateway, "dns", l.DNS, "lease", l.Duration, "t1", l.T1, "t2", l.T2)
	} else {
		c.Log.Debug("dhcp lease renewed", "address", l.Address, "lease", l.Duration)
	}
	if c.OnLease != nil {
		c.OnLease(l)
	}
	return l
}

// discover repeats DISCOVER with backoff until a lease is bound.
func (c *dhcpClient) discover(ctx context.Context) (*dhcpLease, error) {
	wait := time.Second
	for {
		c.set(dhcpSelecting, nil, nil)
		ack, err := c.exchange(ctx, 10*time.Second, c.Transport.Discover)
		if errors.Is(err, errCarrierLost) || ctx.Err() != nil {
			return nil, errCarrierLost
		}
		l, err := leaseFrom(ack, err)
		if err == nil {
			return l, nil
		}
		c.set(dhcpSelecting, nil, err)
		c.Log.Debug("dhcp discover failed", "err", err, "retry_in", wait)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
		wait = min(wait*2, c.Retry)
	}
}

// keep renews *lease until it is lost (returns nil, lease set to nil) or
// the carrier drops (errCarrierLost, lease kept).
func (c *dhcpClient) keep(ctx context.Context, lease **dhcpLease, drop func(string)) error {
	for {
		l := *lease
		now := time.Now()
		var next time.Time
		switch {
		case now.Before(l.RenewAt()):
			c.set(dhcpBound, l, nil)
			next = l.RenewAt()
		case now.Before(l.ExpiresAt()):
			broadcast := !now.Before(l.RebindAt())
			state, deadline := dhcpRenewing, l.RebindAt()
			if broadcast {
				state, deadline = dhcpRebinding, l.ExpiresAt()
			}
			c.set(state, l, nil)
			// RFC 2131 4.4.5: retry at half the remaining time; our floor is
			// 1s rather than 60s so that short leases still work.
			timeout := min(max(deadline.Sub(now)/2, time.Second), 4*time.Second)
			ack, err := c.exchange(ctx, timeout, func(ctx context.Context) (*dhcpv4.DHCPv4, error) {
				return c.Transport.Renew(ctx, l, broadcast)
			})
			if errors.Is(err, errCarrierLost) {
				return err
			}
			var nak *nclient4.ErrNak
			if errors.As(err, &nak) {
				drop("server refused renewal (NAK)")
				*lease = nil
				return nil
			}
			if nl, lerr := leaseFrom(ack, err); lerr == nil {
				if nl.Address != l.Address {
					drop(fmt.Sprintf("server moved us from %s to %s", l.Address, nl.Address))
				}
				*lease = c.bound(l, nl)
				continue
			} else {
				c.set(state, l, lerr)
				c.Log.Debug("dhcp renew failed", "state", state, "err", lerr)
			}
			next = time.Now().Add(max(time.Until(deadline)/2, time.Second))
			if next.After(deadline) {
				next = deadline
			}
		default:
			drop("lease expired")
			*lease = nil
			return nil
		}
		if err := c.sleep(ctx, time.Until(next)); err != nil {
			return err
		}
	}
}
