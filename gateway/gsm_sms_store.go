package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"edgebox/internal/atomicfile"
)

// smsItem is one thing the box owes the PBX or the webhook: a received
// SMS or a delivery report. It stays on disk until every target it has
// took it (a 2xx), so a restart or a PBX outage loses nothing.
type smsItem struct {
	Key  string `json:"key"`  // file name: sms-<netctl id> or report-<ref>
	Kind string `json:"kind"` // "sms" or "sms_status"
	SIM  int    `json:"sim"`  // index in gateway.gsm.sims
	// From is the SMS's sender (sms) or the number sent to (report).
	From   string    `json:"from"`
	Text   string    `json:"text"`
	Time   time.Time `json:"time"`
	Parts  int       `json:"parts,omitempty"`
	ID     string    `json:"id,omitempty"`     // netctl's message id
	Status string    `json:"status,omitempty"` // report: delivered / failed
	Reason string    `json:"reason,omitempty"` // report: why it failed
	// ReplyTo is the SIP URI a report goes back to (the From of the PBX's
	// MESSAGE); empty: the SIM's message_uri.
	ReplyTo string `json:"reply_to,omitempty"`
	Refs    []int  `json:"refs,omitempty"`
	// SIPDone and HookDone mark the targets that took it.
	SIPDone  bool      `json:"sip_done,omitempty"`
	HookDone bool      `json:"hook_done,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	NextTry  time.Time `json:"next_try,omitzero"`
	LastErr  string    `json:"last_error,omitempty"`
}

// errStoreFull refuses a new item when the store holds its maximum.
var errStoreFull = errors.New("SMS store full")

// smsStore keeps items as one JSON file each under dir (atomicfile: a
// power cut leaves the old or the new file), plus the event cursor and
// the record of sent messages awaiting reports.
type smsStore struct {
	dir string
	max int

	mu    sync.Mutex
	items map[string]*smsItem
}

func openSMSStore(dir string, max int) (*smsStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("gateway.gsm.store_dir: %w", err)
	}
	s := &smsStore{dir: dir, max: max, items: map[string]*smsItem{}}
	files, err := filepath.Glob(filepath.Join(dir, "item-*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("SMS store: %w", err)
		}
		var it smsItem
		if err := json.Unmarshal(data, &it); err != nil || it.Key == "" {
			// a file this build cannot read is kept for a person to look
			// at, renamed so it is not read again
			os.Rename(f, f+".unreadable")
			continue
		}
		s.items[it.Key] = &it
	}
	return s, nil
}

func (s *smsStore) path(key string) string {
	return filepath.Join(s.dir, "item-"+key+".json")
}

// add stores it unless an item with its key is there already (the same
// event seen again after a restart) or the store is full.
func (s *smsStore) add(it *smsItem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.items[it.Key]; dup {
		return nil
	}
	if len(s.items) >= s.max {
		return fmt.Errorf("%w: %d messages wait for the PBX or the webhook (gateway.gsm.store_max); new SMS stay in the modem's store until they are delivered: check the PBX's address, its MESSAGE handling and the webhook", errStoreFull, len(s.items))
	}
	if err := s.writeLocked(it); err != nil {
		return err
	}
	s.items[it.Key] = it
	return nil
}

func (s *smsStore) writeLocked(it *smsItem) error {
	data, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path(it.Key), data, 0o600)
}

// update writes the item's new state (after a delivery attempt).
func (s *smsStore) update(it *smsItem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[it.Key]; !ok {
		return nil
	}
	return s.writeLocked(it)
}

// remove forgets a delivered item.
func (s *smsStore) remove(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, key)
	err := os.Remove(s.path(key))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return err
}

// due lists copies of the items whose next try has come, oldest first,
// and the time the next one after them is due.
func (s *smsStore) due(now time.Time) ([]smsItem, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []smsItem
	var next time.Time
	for _, it := range s.items {
		if !it.NextTry.After(now) {
			out = append(out, *it)
		} else if next.IsZero() || it.NextTry.Before(next) {
			next = it.NextTry
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, next
}

func (s *smsStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// smsState is the small state beside the items: the last netctl event
// taken and the messages sent whose reports are awaited.
type smsState struct {
	After uint64                `json:"after"`
	Sent  map[string]sentRecord `json:"sent,omitempty"` // by first message reference
	// Since is when the bridge first ran: netctl's older SMS are not
	// the bridge's to deliver (gsm_sms_reconcile.go).
	Since time.Time `json:"since"`
	// Taken are the ids of received SMS taken, with their time.
	Taken map[string]time.Time `json:"taken,omitempty"`
}

// sentRecord is a message the box sent for the PBX, the AMI or itself,
// kept until its delivery reports are in.
type sentRecord struct {
	SIM     int            `json:"sim"`
	To      string         `json:"to"`
	Origin  string         `json:"origin"` // sip, ami
	ReplyTo string         `json:"reply_to,omitempty"`
	AMIID   string         `json:"ami_id,omitempty"`
	AMIUser string         `json:"ami_user,omitempty"` // whose sessions get the status
	Refs    []int          `json:"refs"`
	Status  map[int]string `json:"status,omitempty"`
	Sent    time.Time      `json:"sent"`
}

// maxSentRecords bounds the reports awaited; the oldest are forgotten.
const maxSentRecords = 1000

func (s *smsStore) loadState() smsState {
	var st smsState
	data, err := os.ReadFile(filepath.Join(s.dir, "state.json"))
	if err == nil {
		json.Unmarshal(data, &st)
	}
	if st.Sent == nil {
		st.Sent = map[string]sentRecord{}
	}
	return st
}

func (s *smsStore) saveState(st smsState) error {
	if len(st.Sent) > maxSentRecords {
		keys := make([]string, 0, len(st.Sent))
		for k := range st.Sent {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return st.Sent[keys[i]].Sent.Before(st.Sent[keys[j]].Sent) })
		for _, k := range keys[:len(keys)-maxSentRecords] {
			delete(st.Sent, k)
		}
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.dir, "state.json"), data, 0o600)
}

// storeKey makes an id from netctl safe as part of a file name.
func storeKey(prefix, id string) string {
	var b strings.Builder
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return prefix + "-" + b.String()
}
