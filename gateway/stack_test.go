package gateway_test

import (
	"os"
	"strings"
	"testing"

	"edgebox/gateway"
	"edgebox/internal/config"
)

// The call suites run on both browser-leg stacks (gateway.media.stack):
// forEachStack runs a test's body once per stack as subtests named
// "stack=pion" and "stack=lean", and testConfig gives every gateway a test
// starts the stack its (sub)test's name says. Tests not split this way
// run on GATEWAY_TEST_STACK (unset: the default stack), so the whole
// suite can be run on either stack.

var stacks = []string{config.StackPion, config.StackLean}

func forEachStack(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	for _, s := range stacks {
		t.Run("stack="+s, body)
	}
}

// stackOf is the stack t runs on.
func stackOf(t testing.TB) string {
	for _, s := range stacks {
		if strings.Contains(t.Name(), "stack="+s) {
			return s
		}
	}
	return os.Getenv("GATEWAY_TEST_STACK")
}

// requireStack checks that the calls' browser legs came up on the stack
// the test asked for: a lean call that fell back to pion would pass the
// suites without testing the lean stack at all.
func requireStack(t *testing.T, calls []gateway.CallInfo) {
	t.Helper()
	want := stackOf(t)
	if want == "" {
		want = config.DefaultStack
	}
	for _, ci := range calls {
		if ci.Stack != want {
			t.Errorf("call %s: browser leg on stack %q, want %q", ci.ID, ci.Stack, want)
		}
	}
}

// checkLeanAtEnd makes every test on the lean stack check, when it ends,
// that the calls whose browser leg came up did so on the lean stack where
// the configuration lets them (a public address, no pion_media_path, no
// video to bridge): a silent fallback to pion would leave the lean stack
// untested by a green suite.
func checkLeanAtEnd(t testing.TB, svc *gateway.Service, cfg config.Gateway) {
	m := cfg.Media
	if m.Stack == "" {
		m.Stack = config.DefaultStack
	}
	if m.Stack != config.StackLean || m.PionMediaPath || m.PublicAddress == "" || m.Video {
		return
	}
	t.Cleanup(func() {
		for _, ci := range append(svc.History(1000), svc.Snapshot()...) {
			if ci.Stack != "" && ci.Stack != config.StackLean {
				t.Errorf("call %s: browser leg on %q, not lean", ci.ID, ci.Stack)
			}
		}
	})
}
