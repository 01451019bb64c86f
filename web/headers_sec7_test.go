package web

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSec7HeadersBounded (seventh review): web took request headers up to
// net/http's default of 1 MiB, held in memory until they end (10 s at
// most): with 512 connections per interface a LAN host held half a
// gigabyte of web's memory before any password was asked. Now 64 KiB: a
// larger header is refused with 431; a 32 KiB one is still read.
func TestSec7HeadersBounded(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	httpURL, _ := liveServer(t, e)
	host := strings.TrimPrefix(httpURL, "http://")
	status := func(pad int) string {
		t.Helper()
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Pad: %s\r\n\r\n", host, strings.Repeat("a", pad))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}
	if got := status(512 << 10); !strings.Contains(got, " 431 ") {
		t.Errorf("a 512 KiB header: %q, want 431", got)
	}
	if got := status(32 << 10); !strings.Contains(got, " 200 ") {
		t.Errorf("a 32 KiB header: %q, want 200", got)
	}
}
