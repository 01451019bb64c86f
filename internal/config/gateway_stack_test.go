package config

import (
	"strings"
	"testing"
)

// gateway.media.stack takes "", "pion" or "lean"; anything else names the
// field and the choices.
func TestGatewayMediaStack(t *testing.T) {
	for _, v := range []string{"", StackPion, StackLean} {
		g := DefaultGateway()
		g.Media.Stack = v
		if err := g.Validate(); err != nil {
			t.Errorf("stack %q: %v", v, err)
		}
	}
	g := DefaultGateway()
	g.Media.Stack = "fast"
	err := g.Validate()
	if err == nil || !strings.Contains(err.Error(), "gateway.media.stack") || !strings.Contains(err.Error(), `"lean"`) {
		t.Fatalf("stack \"fast\": %v", err)
	}
}
