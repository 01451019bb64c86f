package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// amiListeners keep one AMI listener per allowed interface, each bound
// to its device (SO_BINDTODEVICE) like web's listeners: a connection is
// taken only when it arrived on loopback or a LAN/VPN interface, never
// on an uplink, whatever address it was sent to. Interfaces that come
// later (the VPN's tun0) are picked up by follow.
type amiListeners struct {
	port     int
	patterns []string
	serve    func(net.Conn)
	log      *slog.Logger

	mu     sync.Mutex
	byDev  map[string]net.Listener
	closed bool // no listener opens after close (a sync may be under way)
	wg     sync.WaitGroup
}

func newAMIListeners(port int, patterns []string, serve func(net.Conn), log *slog.Logger) (*amiListeners, error) {
	l := &amiListeners{port: port, patterns: patterns, serve: serve, log: log, byDev: map[string]net.Listener{}}
	// loopback first: a port that is taken shows at once
	if err := l.open("lo", "127.0.0.1"); err != nil {
		return nil, fmt.Errorf("gateway.gsm.ami: %w", err)
	}
	l.sync()
	return l, nil
}

// allowed says whether interface name may carry the AMI.
func (l *amiListeners) allowed(name string) bool {
	for _, p := range l.patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// sync opens listeners on allowed interfaces that have none and closes
// those of interfaces that are gone.
func (l *amiListeners) sync() {
	ifs, err := net.Interfaces()
	if err != nil {
		return
	}
	present := map[string]bool{"lo": true}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 || !l.allowed(ifi.Name) {
			continue
		}
		present[ifi.Name] = true
		l.mu.Lock()
		_, have := l.byDev[ifi.Name]
		l.mu.Unlock()
		if !have {
			if err := l.open(ifi.Name, "0.0.0.0"); err != nil {
				l.log.Warn("AMI: no listener on interface", "interface", ifi.Name, "err", err)
			}
		}
	}
	l.mu.Lock()
	for dev, ln := range l.byDev {
		if !present[dev] {
			ln.Close()
			delete(l.byDev, dev)
		}
	}
	l.mu.Unlock()
}

// open listens on host:port bound to dev.
func (l *amiListeners) open(dev, host string) error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, dev)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(host, strconv.Itoa(l.port)))
	if err != nil {
		return fmt.Errorf("listen on %s port %d: %w", dev, l.port, err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		ln.Close()
		return nil
	}
	l.byDev[dev] = ln
	l.wg.Add(1)
	l.mu.Unlock()
	l.log.Info("AMI listening", "interface", dev, "addr", ln.Addr().String())
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					l.log.Debug("AMI accept", "err", err)
				}
				return
			}
			l.serve(c)
		}
	}()
	return nil
}

// follow re-reads the interfaces every few seconds until ctx ends.
func (l *amiListeners) follow(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.sync()
		}
	}
}

func (l *amiListeners) close() {
	l.mu.Lock()
	l.closed = true
	for dev, ln := range l.byDev {
		ln.Close()
		delete(l.byDev, dev)
	}
	l.mu.Unlock()
	l.wg.Wait()
}
