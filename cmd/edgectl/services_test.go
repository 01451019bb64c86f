package main

import (
	"strings"
	"testing"

	"edgebox/internal/sysapi"
)

// TestServicesShowLastError: edgectl services showed "exit status 1" for a
// crash-looping service and not why; the admin had to find it in the
// logs. Its last error lines (init's last_error) now follow the table,
// each under the service's name, as the dashboard shows them.
func TestServicesShowLastError(t *testing.T) {
	why := "level=ERROR msg=\"gateway: listen\" err=\"listen udp :5060: bind: address already in use\"\nlevel=ERROR msg=\"gateway: giving up\""
	out := servicesText([]sysapi.Service{
		{Name: "netctl", State: sysapi.StateRunning, PID: 42, UptimeSec: 90},
		{Name: "gateway", State: sysapi.StateFailed, Restarts: 5, LastExit: "exit status 1", LastError: why},
	})
	for _, want := range []string{"exit status 1", "gateway last error:", "  level=ERROR msg=\"gateway: listen\" err=\"listen udp :5060: bind: address already in use\"", "  level=ERROR msg=\"gateway: giving up\""} {
		if !strings.Contains(out, want) {
			t.Errorf("edgectl services lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "netctl last error") {
		t.Errorf("a service without an error gets an error section:\n%s", out)
	}
}
