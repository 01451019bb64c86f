package calldial

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"

	"github.com/vishvananda/netns"
)

// InNetns runs f on a thread switched into network namespace name, so the
// sockets f makes live there (a socket keeps its namespace for life, read
// and written from any thread). The thread goes back to its namespace
// afterwards and lives on: a thread that ended would take with it the
// processes it had started with Pdeathsig (the signal follows the thread
// that forked, not the process). name "" runs f here.
func InNetns(name string, f func() error) error {
	if name == "" {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("this thread's network namespace: %w", err)
			return
		}
		defer home.Close()
		h, err := netns.GetFromName(name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("network namespace %s: %w", name, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", name, err)
			return
		}
		err = f()
		// back home, or the thread stays locked and ends with the goroutine
		if netns.Set(home) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// dialer is the run's DialContext: its connections are made inside
// namespace ns; on this host's loopback they come from 127.0.0.2 ..
// 127.0.0.254 in turn, as a box's callers come from many addresses (the
// gateway caps the sockets that have not shown a token yet per source
// address).
func dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var next atomic.Uint32
	return func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		var d net.Dialer
		if ns == "" {
			if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Is4() && ap.Addr().IsLoopback() {
				src := netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + next.Add(1)%253)})
				d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
			}
		}
		err = InNetns(ns, func() error {
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}
