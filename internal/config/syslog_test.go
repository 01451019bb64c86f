package config

import (
	"strings"
	"testing"
)

// TestParseSyslog: system.syslog is host:port (UDP, as every box stored
// it before TCP) or a transport and host:port; anything else, and values
// that hide something behind the address, are refused with an error that
// shows the right form.
func TestParseSyslog(t *testing.T) {
	for _, c := range []struct {
		in, transport, addr string
		err                 string // "" = accepted
	}{
		{"", "", "", ""},
		{"10.8.0.1:514", "udp", "10.8.0.1:514", ""},
		{"logs.example.net:514", "udp", "logs.example.net:514", ""},
		{"udp://10.8.0.1:514", "udp", "10.8.0.1:514", ""},
		{"tcp://10.8.0.1:514", "tcp", "10.8.0.1:514", ""},
		{"TCP://10.8.0.1:6514", "tcp", "10.8.0.1:6514", ""},
		{"tcp://[fd00::1]:514", "tcp", "[fd00::1]:514", ""},
		{"tcp://logs.example.net:514", "tcp", "logs.example.net:514", ""},
		{"10.8.0.1", "", "", "is not host:port or tcp://host:port"},
		{"10.8.0.1:0", "", "", "is not host:port"},
		{"tls://10.8.0.1:6514", "", "", "TLS is not supported"},
		{"http://10.8.0.1:514", "", "", `"http" is not a syslog transport`},
		{"://10.8.0.1:514", "", "", `"" is not a syslog transport`},
		{"tcp://10.8.0.1", "", "", "after tcp:// comes host:port"},
		{"tcp://10.8.0.1:99999", "", "", "after tcp:// comes host:port"},
		{"tcp://10.8.0.1:514/logs", "", "", "after tcp:// comes host:port"},
		{"tcp://admin@10.8.0.1:514", "", "", "after tcp:// comes host:port"},
		{"tcp://10.8.0.1:514?x=1", "", "", "after tcp:// comes host:port"},
		{"tcp://:514", "", "", "after tcp:// comes host:port"},
		{"tcp://log host:514", "", "", "after tcp:// comes host:port"},
		{"tcp://logs\n.example.net:514", "", "", "after tcp:// comes host:port"},
		{"tcp://-logs.example.net:514", "", "", "after tcp:// comes host:port"},
		{"tcp://" + strings.Repeat("a", 64) + ".net:514", "", "", "after tcp:// comes host:port"},
		{"tcp://tcp://10.8.0.1:514", "", "", "after tcp:// comes host:port"},
	} {
		got, err := ParseSyslog(c.in)
		if c.err == "" {
			if err != nil || got.Transport != c.transport || got.Address != c.addr {
				t.Errorf("ParseSyslog(%q) = %+v, %v; want %s %s", c.in, got, err, c.transport, c.addr)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), SyslogExample) {
			t.Errorf("ParseSyslog(%q) = %+v, %v; want an error saying %q and the example", c.in, got, err, c.err)
		}
	}
}

// A refused value names the field, as every Validate error does, and the
// exposure rule reads the address behind tcp:// too.
func TestSyslogInConfig(t *testing.T) {
	c := Default()
	c.System.Syslog = "tcp://10.8.0.1:514/x"
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "system.syslog: ") {
		t.Fatalf("Validate = %v, want a system.syslog error", err)
	}
	c.System.Syslog = "tcp://203.0.113.9:514"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.Exposures(); err == nil || !strings.Contains(err.Error(), "system.syslog: ") {
		t.Fatalf("a TCP target on the internet: Exposures = %v", err)
	}
	c.System.Syslog = "tcp://10.8.0.1:514"
	if err := c.Exposures(); err != nil {
		t.Fatalf("a TCP target on the VPN: %v", err)
	}
}
