package modem

import (
	"crypto/sha256"
	"encoding/hex"
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
	"edgebox/internal/lazyregexp"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

// smsStore keeps messages durably in a directory, one JSON file each,
// written with atomicfile. Parts of concatenated messages wait in part-
// files until the message is complete. File names derive from the PDUs,
// so storing the same PDU twice (crash between store and SIM delete) does
// not duplicate a message.
type smsStore struct {
	mu  sync.Mutex
	dir string
	// partsMaxAge is how long parts wait for the rest of their message;
	// after that what arrived is stored with markers for what is missing.
	partsMaxAge time.Duration
	// received is each message file's arrival, for the bound
	// (smsbound.go); nil until first needed
	received map[string]time.Time
}

type storedPart struct {
	From     string    `json:"from"`
	Ref      int       `json:"ref"`
	Total    int       `json:"total"`
	Seq      int       `json:"seq"`
	PDU      string    `json:"pdu"`
	Received time.Time `json:"received"`
}

func openSMSStore(dir string) (*smsStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("SMS store: %w", err)
	}
	return &smsStore{dir: dir, partsMaxAge: 24 * time.Hour}, nil
}

func shortHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:8])
}

var smsIDRE = lazyregexp.New(`^[0-9a-f]{16}$`)

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func (st *smsStore) writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(st.dir, name), b, 0o600)
}

// storePDU stores a received PDU. It returns the message when one became
// complete. A nil error means the PDU is safely on disk (even if it could
// not be decoded: then it is kept raw as bad-*.pdu).
func (st *smsStore) storePDU(pdu string) (_ *SMS, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := time.Now().UTC()
	part, err := decodeDeliver(pdu)
	if err != nil {
		if st.badPDUsFullLocked() {
			return nil, nil // enough kept for a human to look at
		}
		name := "bad-" + shortHash(pdu) + ".pdu"
		if werr := atomicfile.WriteFile(filepath.Join(st.dir, name), []byte(pdu+"\n"), 0o600); werr != nil {
			return nil, fmt.Errorf("SMS store: %w", werr)
		}
		return nil, nil
	}
	if part.Total == 1 {
		text, err := decodeText([]inPart{part})
		if err != nil {
			text = "[undecodable: " + err.Error() + "]"
		}
		id := shortHash(pdu)
		name := "msg-" + id + ".json"
		if exists(filepath.Join(st.dir, name)) {
			return nil, nil // stored before a crash; SIM copy not yet deleted
		}
		m := SMS{ID: id, From: part.From, Text: text, Time: part.Time, Received: now, Parts: 1}
		if err := st.writeMessageLocked(m); err != nil {
			return nil, fmt.Errorf("SMS store: %w", err)
		}
		return &m, nil
	}
	key := shortHash(part.From, fmt.Sprint(part.Ref), fmt.Sprint(part.Total))
	pname := fmt.Sprintf("part-%s-%03d.json", key, part.Seq)
	if !exists(filepath.Join(st.dir, pname)) {
		sp := storedPart{From: part.From, Ref: part.Ref, Total: part.Total, Seq: part.Seq, PDU: pdu, Received: now}
		if err := st.writeJSON(pname, sp); err != nil {
			return nil, fmt.Errorf("SMS store: %w", err)
		}
		defer func() {
			if berr := st.boundPartsLocked(); berr != nil && err == nil {
				err = fmt.Errorf("SMS store: %w", berr)
			}
		}()
	}
	// Complete?
	parts := make([]inPart, part.Total)
	pdus := make([]string, part.Total)
	for i := 1; i <= part.Total; i++ {
		b, err := os.ReadFile(filepath.Join(st.dir, fmt.Sprintf("part-%s-%03d.json", key, i)))
		if err != nil {
			return nil, nil // still waiting for part i
		}
		var sp storedPart
		if err := json.Unmarshal(b, &sp); err != nil {
			return nil, fmt.Errorf("SMS store: part %d of %s: %w", i, key, err)
		}
		ip, err := decodeDeliver(sp.PDU)
		if err != nil {
			return nil, fmt.Errorf("SMS store: part %d of %s: %w", i, key, err)
		}
		parts[i-1], pdus[i-1] = ip, sp.PDU
	}
	text, err := decodeText(parts)
	if err != nil {
		text = "[undecodable: " + err.Error() + "]"
	}
	id := shortHash(pdus...)
	m := SMS{ID: id, From: part.From, Text: text, Time: parts[0].Time, Received: now, Parts: part.Total}
	if err := st.writeMessageLocked(m); err != nil {
		return nil, fmt.Errorf("SMS store: %w", err)
	}
	for i := 1; i <= part.Total; i++ {
		os.Remove(filepath.Join(st.dir, fmt.Sprintf("part-%s-%03d.json", key, i)))
	}
	atomicfile.SyncDir(st.dir)
	return &m, nil
}

func (st *smsStore) storeSent(m SMS) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.writeMessageLocked(m)
}

// flushStaleLocked turns part groups older than partsMaxAge into
// messages with "[part N missing]" markers, so nothing waits forever.
func (st *smsStore) flushStaleLocked(now time.Time) error {
	groups, newest, err := st.partGroupsLocked()
	if err != nil {
		return err
	}
	for key, parts := range groups {
		if now.Sub(newest[key]) < st.partsMaxAge {
			continue
		}
		if err := st.flushGroupLocked(key, parts, newest[key]); err != nil {
			return err
		}
	}
	return nil
}

// partGroupsLocked reads the waiting parts, grouped by message key, and
// when each group's last part came.
func (st *smsStore) partGroupsLocked() (map[string][]storedPart, map[string]time.Time, error) {
	names, err := filepath.Glob(filepath.Join(st.dir, "part-*.json"))
	if err != nil {
		return nil, nil, err
	}
	groups := map[string][]storedPart{}
	newest := map[string]time.Time{}
	for _, n := range names {
		base := filepath.Base(n) // part-<key>-<seq>.json
		f := strings.Split(strings.TrimSuffix(base, ".json"), "-")
		if len(f) != 3 {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, nil, err
		}
		var sp storedPart
		if json.Unmarshal(b, &sp) != nil {
			continue // left in place, reported nowhere else: keep it for a human
		}
		groups[f[1]] = append(groups[f[1]], sp)
		if sp.Received.After(newest[f[1]]) {
			newest[f[1]] = sp.Received
		}
	}
	return groups, newest, nil
}

// flushGroupLocked stores what arrived of one group as a message, with
// markers for what is missing, and removes its parts.
func (st *smsStore) flushGroupLocked(key string, parts []storedPart, newest time.Time) error {
	sort.Slice(parts, func(i, j int) bool { return parts[i].Seq < parts[j].Seq })
	total := parts[0].Total
	bySeq := map[int]storedPart{}
	for _, p := range parts {
		bySeq[p.Seq] = p
	}
	var text strings.Builder
	var pdus []string
	var first time.Time
	for i := 1; i <= total; i++ {
		p, ok := bySeq[i]
		if !ok {
			fmt.Fprintf(&text, "[part %d of %d missing]", i, total)
			continue
		}
		pdus = append(pdus, p.PDU)
		ip, err := decodeDeliver(p.PDU)
		if err != nil {
			fmt.Fprintf(&text, "[part %d undecodable]", i)
			continue
		}
		if first.IsZero() {
			first = ip.Time
		}
		b, err := sms.Decode([]*tpdu.TPDU{ip.TPDU})
		if err != nil {
			fmt.Fprintf(&text, "[part %d undecodable]", i)
			continue
		}
		text.Write(b)
	}
	id := shortHash(pdus...)
	m := SMS{ID: id, From: parts[0].From, Text: text.String(), Time: first, Received: newest, Parts: total}
	if err := st.writeMessageLocked(m); err != nil {
		return err
	}
	for _, p := range parts {
		os.Remove(filepath.Join(st.dir, fmt.Sprintf("part-%s-%03d.json", key, p.Seq)))
	}
	atomicfile.SyncDir(st.dir)
	return nil
}

func (st *smsStore) list() ([]SMS, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.flushStaleLocked(time.Now()); err != nil {
		return nil, fmt.Errorf("SMS store: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(st.dir, "msg-*.json"))
	if err != nil {
		return nil, err
	}
	out := []SMS{}
	var bad []string
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("SMS store: %w", err)
		}
		var m SMS
		if err := json.Unmarshal(b, &m); err != nil {
			bad = append(bad, filepath.Base(n))
			continue
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Received.Before(out[j].Received) })
	if len(bad) > 0 {
		return out, fmt.Errorf("SMS store: unreadable files left in place: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

func (st *smsStore) delete(id string) error {
	if !smsIDRE.MatchString(id) {
		return fmt.Errorf("SMS id %q: want 16 hex digits", id)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	err := os.Remove(filepath.Join(st.dir, "msg-"+id+".json"))
	st.forgetMessageLocked(id)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no message %s", id)
	}
	if err != nil {
		return err
	}
	return atomicfile.SyncDir(st.dir)
}
