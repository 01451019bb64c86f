package main

import (
	"log/slog"
	"testing"
)

// The box's own service table must pass the supervisor's checks (unique
// names, known dependencies, no cycles), or nothing runs on the box.
func TestBoxServicesTable(t *testing.T) {
	if _, err := newSupervisor("apu2", nil, nil, slog.Default()); err != nil {
		t.Fatal(err)
	}
}
