package web

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ListenDevice opens a TCP listener on addr that accepts only connections
// arriving on interface dev (SO_BINDTODEVICE). Several such listeners
// share one port, one per interface.
func ListenDevice(network, addr, dev string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = unix.BindToDevice(int(fd), dev) }); cerr != nil {
			return cerr
		}
		return err
	}}
	return lc.Listen(context.Background(), network, addr)
}

// boundDevice is the name of the device l is bound to now ("" if none
// or if that device is gone).
func boundDevice(l net.Listener) string {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return ""
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return ""
	}
	var dev string
	rc.Control(func(fd uintptr) {
		dev, _ = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
	})
	return dev
}

// LinkEvents opens a socket of the current network namespace that reads
// a message whenever an interface or an IPv4 address is added, removed or
// changes state (rtnetlink groups link and ipv4-ifaddr).
func LinkEvents() (io.ReadCloser, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Non-blocking: os.File reads through the poller, so Close ends a Read.
	return os.NewFile(uintptr(fd), "rtnetlink"), nil
}

// deviceListener is one net.Listener made of a device-bound listener per
// allowed interface (and loopback). It follows the interfaces: tun0
// appears when the VPN connects, a pattern change opens or closes ports.
// It reopens on the kernel's link events, so a VPN that reconnects (a new
// tun0, a new index) is answered as soon as tun0 exists; the poll is only
// a fallback (without it a reconnect was refused for up to ~3 s).
type deviceListener struct {
	addr   string
	listen func(network, addr, dev string) (net.Listener, error)
	policy *AccessPolicy
	events func() (io.ReadCloser, error) // LinkEvents; nil: poll only
	poll   time.Duration

	*connQueue // what Accept hands out (sniff.go)

	mu     sync.Mutex
	subs   map[string]net.Listener
	failed map[string]bool // logged once until it works again
	closed bool
	wg     sync.WaitGroup
}

func newDeviceListener(addr string, policy *AccessPolicy, listen func(network, addr, dev string) (net.Listener, error)) (*deviceListener, error) {
	if listen == nil {
		listen = ListenDevice
	}
	return startDeviceListener(&deviceListener{addr: addr, listen: listen, policy: policy, events: LinkEvents, poll: 2 * time.Second})
}

// startDeviceListener opens d's listeners and follows the interfaces.
func startDeviceListener(d *deviceListener) (*deviceListener, error) {
	addr, policy := d.addr, d.policy
	d.subs, d.failed = map[string]net.Listener{}, map[string]bool{}
	d.connQueue = newConnQueue(nil, d.closeSubs)
	d.sync()
	d.mu.Lock()
	_, lo := d.subs["lo"]
	d.mu.Unlock()
	if !lo {
		d.Close()
		return nil, errors.New("cannot listen on " + addr + " (loopback)")
	}
	changed := policy.notify()
	linked := d.followLinks()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(d.poll)
		defer t.Stop()
		for {
			select {
			case <-d.connQueue.done:
				return
			case <-t.C:
			case <-changed:
			case <-linked:
				// The policy's interface list may be up to a second old.
				policy.mu.Lock()
				policy.refreshLocked()
				policy.mu.Unlock()
			}
			d.sync()
		}
	}()
	return d, nil
}

// followLinks signals on the returned channel after the kernel reports a
// link or address change, until d is closed. Without events (or if the
// socket cannot be opened) the poll alone follows the interfaces.
func (d *deviceListener) followLinks() <-chan struct{} {
	kick := make(chan struct{}, 1)
	if d.events == nil {
		return kick
	}
	ev, err := d.events()
	if err != nil {
		slog.Warn("cannot follow interface changes, polling instead", "err", err)
		return kick
	}
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		<-d.connQueue.done
		ev.Close()
	}()
	go func() {
		defer d.wg.Done()
		buf := make([]byte, 64<<10)
		for {
			// ENOBUFS: events were lost, a sync catches up anyway. Any
			// other error (closed) ends it; the poll remains.
			if _, err := ev.Read(buf); err != nil && !errors.Is(err, unix.ENOBUFS) {
				return
			}
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}()
	return kick
}

// sync opens listeners for new allowed interfaces and closes those of
// interfaces that went away or are no longer allowed.
func (d *deviceListener) sync() {
	want := map[string]bool{}
	for _, n := range d.policy.allowedNames() {
		want[n] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	for name, l := range d.subs {
		// A socket stays bound to the interface index it was bound to:
		// when tun0 goes and comes back (the VPN reconnects), the old
		// socket would wait on a device that is gone.
		if !want[name] || boundDevice(l) != name {
			l.Close()
			delete(d.subs, name)
		}
	}
	for name := range want {
		if _, ok := d.subs[name]; ok {
			continue
		}
		l, err := d.listen("tcp", d.addr, name)
		if err != nil {
			if !d.failed[name] {
				slog.Warn("cannot listen on interface", "interface", name, "addr", d.addr, "err", err)
				d.failed[name] = true
			}
			continue
		}
		delete(d.failed, name)
		d.subs[name] = l
		d.wg.Add(1)
		go d.accept(l)
	}
}

func (d *deviceListener) accept(l net.Listener) {
	defer d.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		d.put(c)
	}
}

// closeSubs closes every interface's listener and waits for their
// goroutines (the queue's Close calls it once).
func (d *deviceListener) closeSubs() error {
	d.mu.Lock()
	d.closed = true
	for _, l := range d.subs {
		l.Close()
	}
	d.subs = map[string]net.Listener{}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

// Addr is the address every interface's listener shares.
func (d *deviceListener) Addr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.subs["lo"]; ok {
		return l.Addr()
	}
	a, _ := net.ResolveTCPAddr("tcp", d.addr)
	return a
}

const ingressKey ctxKey = 3

// withIngress keeps the arrival interface of a connection in its
// requests' context (http.Server.ConnContext).
func withIngress(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	switch x := c.(type) {
	case ingressConn:
		return context.WithValue(ctx, ingressKey, x.iface)
	case *peekedConn:
		if iface, ok := x.ingress(); ok {
			return context.WithValue(ctx, ingressKey, iface)
		}
	}
	return ctx
}

// ingressFrom is the interface r arrived on, if it came over TCP.
func ingressFrom(r *http.Request) (string, bool) {
	s, ok := r.Context().Value(ingressKey).(string)
	return s, ok
}
