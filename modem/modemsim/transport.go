package modemsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ServePTY creates a pty, serves the modem on its master side and returns
// the path of the slave side (what the box opens as its AT port). The pty
// stays usable across opens and closes of the slave until ctx ends; the
// returned wait function blocks until the session has stopped.
func (s *Sim) ServePTY(ctx context.Context) (path string, wait func(), err error) {
	master, slave, err := pty.Open()
	if err != nil {
		return "", nil, fmt.Errorf("modemsim: open pty: %w", err)
	}
	if err := makeRaw(int(slave.Fd())); err != nil {
		master.Close()
		slave.Close()
		return "", nil, fmt.Errorf("modemsim: raw pty: %w", err)
	}
	// pty.Open leaves the master blocking; a non-blocking duplicate lets
	// Close interrupt a pending Read so the session stops with ctx.
	fd, err := unix.Dup(int(master.Fd()))
	master.Close()
	if err != nil {
		slave.Close()
		return "", nil, fmt.Errorf("modemsim: dup pty: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		slave.Close()
		return "", nil, fmt.Errorf("modemsim: pty nonblock: %w", err)
	}
	m := os.NewFile(uintptr(fd), "ptmx")
	path = slave.Name()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// We keep the slave open so the master never sees EIO while the
		// box has the port closed (between reopen attempts).
		defer slave.Close()
		err := s.Serve(ctx, m)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("modemsim: pty session ended", "err", err)
		}
	}()
	return path, wg.Wait, nil
}

func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// ServeListener accepts connections (QEMU's -chardev socket connects as a
// client) and serves an AT session on each, until ctx ends. The modem
// keeps its state when a client disconnects and reconnects (guest reboot).
func (s *Sim) ServeListener(ctx context.Context, ln net.Listener) error {
	return acceptEach(ctx, ln, func(err error) error { return fmt.Errorf("modemsim: accept: %w", err) }, func(c net.Conn) {
		if err := s.Serve(ctx, c); err != nil && ctx.Err() == nil {
			s.log.Info("modemsim: client session ended", "err", err)
		}
	})
}

// acceptEach serves each connection ln accepts in a goroutine of its own,
// closing it afterwards, until ctx ends (which closes ln) or Accept fails
// (the error through acceptErr); it waits for those goroutines to end.
func acceptEach(ctx context.Context, ln net.Listener, acceptErr func(error) error, serve func(net.Conn)) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return ctx.Err()
			}
			return acceptErr(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			serve(c)
		}()
	}
}
