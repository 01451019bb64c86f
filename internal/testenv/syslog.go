package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SyslogTCP is a syslog collector over TCP, as rsyslog's imtcp: it reads
// RFC 6587 octet-counted frames ("LEN SP MSG") from every connection to
// its listener and keeps each message. The test stops it (Stop, or at
// its end).
type SyslogTCP struct {
	ln    net.Listener
	onMsg func(string)
	mu    sync.Mutex
	msgs  []string
	conns []net.Conn
	bad   error
	deaf  bool
	wg    sync.WaitGroup
	stop  sync.Once
}

// NewSyslogTCP serves ln; onMsg, if not nil, is called with each message
// as it is read.
func NewSyslogTCP(t testing.TB, ln net.Listener, onMsg func(msg string)) *SyslogTCP {
	c := &SyslogTCP{ln: ln, onMsg: onMsg}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			c.wg.Add(1)
			go func() { defer c.wg.Done(); c.read(conn) }()
		}
	}()
	t.Cleanup(c.Stop)
	return c
}

// read parses frames until the connection ends or one does not parse.
func (c *SyslogTCP) read(conn net.Conn) {
	br := bufio.NewReader(conn)
	for {
		n, err := br.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
		if err != nil || size <= 0 || size > 1<<20 {
			c.mu.Lock()
			c.bad = fmt.Errorf("syslog collector: frame length %q", n)
			c.mu.Unlock()
			return
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(br, buf); err != nil {
			return
		}
		c.mu.Lock()
		deaf := c.deaf
		if !deaf {
			c.msgs = append(c.msgs, string(buf))
		}
		c.mu.Unlock()
		if !deaf && c.onMsg != nil {
			c.onMsg(string(buf))
		}
	}
}

// Deafen makes the collector lose what it reads from now on, as one
// that took the bytes from its socket and died before storing them.
func (c *SyslogTCP) Deafen() {
	c.mu.Lock()
	c.deaf = true
	c.mu.Unlock()
}

// Stop closes the listener and every connection, unread bytes and all.
func (c *SyslogTCP) Stop() {
	c.stop.Do(func() {
		c.ln.Close()
		c.mu.Lock()
		for _, conn := range c.conns {
			conn.Close()
		}
		c.mu.Unlock()
		c.wg.Wait()
	})
}

// Messages is every message read so far, and an error if a frame did
// not parse.
func (c *SyslogTCP) Messages() ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...), c.bad
}
