package main

import (
	"testing"

	"edgebox/internal/supervise"
)

// The box's own service table must pass the supervisor's checks (unique
// names, known dependencies, no cycles), or nothing runs on the box.
func TestBoxServicesTable(t *testing.T) {
	if _, err := supervise.NewSupervisor(boxServices(), supervise.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
}
