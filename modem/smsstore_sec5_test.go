package modem

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSec5SMSStoreBounded: anyone who knows the SIM's number (or a
// bulk-SMS service) can send the box as many SMS as he pays for, and each
// became a file on /perm that stayed until someone deleted it: messages,
// parts of concatenated messages that never complete (one part each,
// every one with a new reference: kept 24 h, then stored as a message),
// and undecodable PDUs. /perm, which also holds the config, the secrets
// and the leases, filled up. Now at most 1000 messages (the oldest go
// first), 500 waiting parts (the oldest groups are stored as incomplete
// messages) and 100 undecodable PDUs are kept. Fifth review.
func TestSec5SMSStoreBounded(t *testing.T) {
	dir := t.TempDir()
	st, err := openSMSStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	store := func(pdu string) {
		t.Helper()
		if _, err := st.storePDU(pdu); err != nil {
			t.Fatal(err)
		}
	}
	var first string
	for i := range 1100 {
		pdus, err := EncodeDeliver("+4915112345678", fmt.Sprintf("flood %d", i), at, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = pdus[0]
		}
		store(pdus[0])
	}
	for i := range 600 {
		// the first part of a two-part message, each from another
		// sender (the reference has 8 bits)
		pdus, err := EncodeDeliver(fmt.Sprintf("+49151%08d", i), strings.Repeat("x", 200), at, i)
		if err != nil || len(pdus) != 2 {
			t.Fatalf("%d parts: %v", len(pdus), err)
		}
		store(pdus[0])
	}
	for i := range 150 {
		store(fmt.Sprintf("0791FF%04X", i))
	}
	count := func(pattern string) int {
		names, _ := filepath.Glob(filepath.Join(dir, pattern))
		return len(names)
	}
	msgs, parts, bad := count("msg-*.json"), count("part-*.json"), count("bad-*.pdu")
	t.Logf("after 1100 messages, 600 lone parts, 150 bad PDUs: %d messages, %d parts, %d bad PDUs on disk", msgs, parts, bad)
	if msgs > 1000 || parts > 500 || bad > 100 {
		t.Errorf("the store grows with every SMS: %d message files (want at most 1000), %d part files (500), %d bad PDUs (100)", msgs, parts, bad)
	}
	// The newest stay, the oldest went.
	last, _ := EncodeDeliver("+4915112345678", "flood 1099", at, 0)
	if count("msg-"+shortHash(last[0])+".json") != 1 {
		t.Error("the newest message is gone")
	}
	if msgs <= 1000 && count("msg-"+shortHash(first)+".json") != 0 {
		t.Error("the oldest message stayed and a newer one went")
	}
	list, err := st.list()
	if err != nil || len(list) > 1000 {
		t.Errorf("list: %d messages, %v", len(list), err)
	}
}
