package image

import (
	"net"
	"os"
	"strings"
	"testing"

	"edgebox/internal/testenv"
)

// fdSyslog is the system.syslog value for a collector at addr: TCP, which
// keeps the lines said while an uplink fails over. EDGEBOX_FIELDDAY_SYSLOG=udp
// runs the day with UDP instead, to see what it loses.
func fdSyslog(addr string) (value, transport string) {
	if os.Getenv("EDGEBOX_FIELDDAY_SYSLOG") == "udp" {
		return addr, "udp"
	}
	return "tcp://" + addr, "tcp"
}

// syslogCollector is a collector in namespace ns on addr for transport.
func syslogCollector(t *testing.T, ns, addr, transport string) (chan string, *testenv.LogBuffer) {
	if transport == "udp" {
		return udpCollector(t, ns, addr)
	}
	return tcpCollector(t, ns, addr)
}

// tcpCollector is a syslog collector over TCP (RFC 6587 octet-counted
// frames) in namespace ns on addr; like udpCollector, its messages come on
// the channel (extra ones are dropped) and are all kept in the buffer, one
// a line.
func tcpCollector(t *testing.T, ns, addr string) (chan string, *testenv.LogBuffer) {
	t.Helper()
	var ln net.Listener
	if err := testenv.DoIn(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4096)
	all := &testenv.LogBuffer{}
	testenv.NewSyslogTCP(t, ln, func(msg string) {
		// One line each in the buffer, as UDP's: a message's own
		// newlines would look like lines without a sequenceId.
		all.Write(append([]byte(strings.ReplaceAll(msg, "\n", `\n`)), '\n'))
		select {
		case lines <- msg:
		default:
		}
	})
	return lines, all
}
