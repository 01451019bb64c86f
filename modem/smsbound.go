package modem

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// What the SMS store keeps at most. Anyone who knows the SIM's number
// can send as many messages as he pays for, and each was a file on
// /perm until someone deleted it; /perm also holds the config, the
// secrets and the leases (fifth review). A message file takes a block
// (4 KiB), so the bounds keep the store under about 7 MiB.
const (
	// maxStoredMessages received and sent; past it the oldest (by
	// arrival) are deleted, as a phone's inbox would be cleaned.
	maxStoredMessages = 1000
	// maxWaitingParts of concatenated messages not yet complete; past it
	// the groups that waited longest are stored as incomplete messages
	// (with markers), as they are after partsMaxAge.
	maxWaitingParts = 500
	// maxBadPDUs undecodable PDUs kept raw for a human; later ones are
	// dropped (the SIM's copy still goes, or it would fill the SIM).
	maxBadPDUs = 100
)

// writeMessageLocked stores m as its message file and deletes the oldest
// messages past maxStoredMessages.
func (st *smsStore) writeMessageLocked(m SMS) error {
	name := "msg-" + m.ID + ".json"
	if err := st.writeJSON(name, m); err != nil {
		return err
	}
	if err := st.loadIndexLocked(); err != nil {
		return err
	}
	st.received[name] = m.Received
	if len(st.received) <= maxStoredMessages {
		return nil
	}
	names := make([]string, 0, len(st.received))
	for n := range st.received {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := st.received[names[i]], st.received[names[j]]
		return a.Before(b) || a.Equal(b) && names[i] < names[j]
	})
	for _, n := range names[:len(names)-maxStoredMessages] {
		if n == name {
			continue // the newest stays, whatever its clock said
		}
		if err := os.Remove(filepath.Join(st.dir, n)); err == nil || os.IsNotExist(err) {
			delete(st.received, n)
		}
	}
	return nil
}

// loadIndexLocked reads the arrival time of every stored message once;
// writeMessageLocked and delete keep it current after that. A file that
// does not decode counts as the oldest (list reports it).
func (st *smsStore) loadIndexLocked() error {
	if st.received != nil {
		return nil
	}
	names, err := filepath.Glob(filepath.Join(st.dir, "msg-*.json"))
	if err != nil {
		return err
	}
	idx := make(map[string]time.Time, len(names))
	for _, n := range names {
		var m struct {
			Received time.Time `json:"received"`
		}
		if b, err := os.ReadFile(n); err == nil {
			json.Unmarshal(b, &m)
		}
		idx[filepath.Base(n)] = m.Received
	}
	st.received = idx
	return nil
}

// boundPartsLocked stores the part groups that waited longest as
// incomplete messages while more than maxWaitingParts parts wait.
func (st *smsStore) boundPartsLocked() error {
	if names, _ := filepath.Glob(filepath.Join(st.dir, "part-*.json")); len(names) <= maxWaitingParts {
		return nil // the usual case: no file read
	}
	groups, newest, err := st.partGroupsLocked()
	if err != nil {
		return err
	}
	n := 0
	keys := make([]string, 0, len(groups))
	for k, g := range groups {
		n += len(g)
		keys = append(keys, k)
	}
	if n <= maxWaitingParts {
		return nil
	}
	// down to nine tenths, so that a flood reads the parts once per
	// fifty, not at every part
	sort.Slice(keys, func(i, j int) bool { return newest[keys[i]].Before(newest[keys[j]]) })
	for _, k := range keys {
		if n <= maxWaitingParts*9/10 {
			break
		}
		if err := st.flushGroupLocked(k, groups[k], newest[k]); err != nil {
			return err
		}
		n -= len(groups[k])
	}
	return nil
}

// badPDUsFullLocked says whether maxBadPDUs undecodable PDUs are kept.
func (st *smsStore) badPDUsFullLocked() bool {
	names, _ := filepath.Glob(filepath.Join(st.dir, "bad-*.pdu"))
	return len(names) >= maxBadPDUs
}

// forgetMessageLocked drops a deleted message from the index.
func (st *smsStore) forgetMessageLocked(id string) {
	if st.received != nil {
		delete(st.received, "msg-"+strings.TrimSpace(id)+".json")
	}
}
