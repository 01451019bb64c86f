package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A gateway binary named in $EDGEBOX_BENCH_GATEWAY_BIN is run as it is
// (an old commit's build, driven by this tree's calldial), a missing one
// is an error that names it, and $EDGEBOX_BENCH_STACK sets the stack.
func TestGatewayBinAndStackFromEnv(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "old-gateway")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinEnv, bin)
	got, err := BuildGateway(t.TempDir())
	if err != nil || got != bin {
		t.Fatalf("BuildGateway = %q, %v; want %q", got, err, bin)
	}
	t.Setenv(BinEnv, filepath.Join(dir, "absent"))
	if _, err := BuildGateway(t.TempDir()); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("a missing binary gave %v", err)
	}
	t.Setenv(StackEnv, "pion")
	cfg, err := GatewayConfig("127.0.0.1:5060", 10)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Media.Stack != "pion" {
		t.Fatalf("stack %q, want pion", cfg.Media.Stack)
	}
}
