package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Install phases, as progress reports name them.
const (
	PhaseChecking  = "checking"  // header, signature, board
	PhaseWriting   = "writing"   // chunks into the inactive slot
	PhaseReadBack  = "verifying" // reading the slot back
	PhaseArmed     = "armed"     // trial boot armed; reboot to try
	PhaseFailed    = "failed"
	PhaseDisarming = "disarming"
)

// Progress is one report of a running install.
type Progress struct {
	Phase   string `json:"phase"`
	Done    int64  `json:"done"`
	Total   int64  `json:"total"`
	Message string `json:"message,omitempty"`
	// Result is set on the last report of a successful install.
	Result *Result `json:"result,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Result is what an install achieved.
type Result struct {
	Slot     string `json:"slot"`
	Version  string `json:"version"`
	SignedBy string `json:"signed_by"`
	Bytes    int64  `json:"bytes"`
	Message  string `json:"message"`
	// Downgrade says why the bundle is older than the running firmware,
	// when AllowDowngrade let it in.
	Downgrade string `json:"downgrade,omitempty"`
}

// Trial is the record of an armed trial boot, kept in the confirmed
// slot's ADV next to syslinux's boot-once command.
type Trial struct {
	Slot    string `json:"s"`
	Version string `json:"v"`
	Armed   int64  `json:"t"` // unix seconds
	// NeedUplink: an uplink or the VPN was up when the update was armed,
	// so the trial must get one back to pass its health check.
	NeedUplink bool `json:"u,omitempty"`
	// Built is the bundle's signed build time (unix seconds), recorded in
	// the history when the trial is confirmed (downgrade checks).
	Built int64 `json:"b,omitempty"`
}

// Installer writes bundles into the inactive slot of a disk.
type Installer struct {
	Disk    *Disk
	Running string // the slot this system booted from
	Board   string
	Trusted []ed25519.PublicKey
	// NeedUplink is recorded in the trial (see Trial.NeedUplink).
	NeedUplink bool
	// Current is the running firmware's version and CurrentBuilt its signed
	// build time (zero if unknown): an older bundle is refused unless
	// AllowDowngrade is set.
	Current        string
	CurrentBuilt   time.Time
	AllowDowngrade bool
	Progress       func(Progress) // may be nil
	Now            func() time.Time
}

func (in *Installer) report(p Progress) {
	if in.Progress != nil {
		in.Progress(p)
	}
}

// errRefused wraps every reason a bundle is refused before anything is
// written.
var errRefused = errors.New("update refused")

// Install reads a bundle from r (size bytes, or -1 if unknown) and, only
// when its header is signed by a trusted key and meant for this board,
// streams it into the inactive slot, checking every chunk against the
// signed manifest before writing it; then reads the whole slot back,
// compares it with the manifest and arms a trial boot. wantSHA, when not
// empty, is the SHA-256 the admin expects of the whole bundle file.
//
// The running slot is written only to clear a stale trial (before) and to
// arm the new one (after): both are writes of syslinux's checksummed ADV,
// whose failure leaves the running slot booting as before.
func (in *Installer) Install(ctx context.Context, r io.Reader, size int64, wantSHA string) (*Result, error) {
	if in.Now == nil {
		in.Now = time.Now
	}
	refuse := func(err error) (*Result, error) {
		return nil, fmt.Errorf("%w: %w", errRefused, err)
	}
	in.report(Progress{Phase: PhaseChecking, Total: size})
	if in.Running != "A" && in.Running != "B" {
		return refuse(fmt.Errorf("this system does not know which slot it booted from (%q)", in.Running))
	}
	if a := in.Disk.Active(); a != in.Running {
		return refuse(fmt.Errorf("slot %s is running on trial (the boot loader's confirmed slot is %q): wait until it is confirmed or rolled back", in.Running, a))
	}
	whole := sha256.New()
	src := &countReader{r: io.TeeReader(r, whole)}
	h, err := ReadHeader(src)
	if err != nil {
		return refuse(err)
	}
	if err := h.Verify(in.Trusted); err != nil {
		return refuse(err)
	}
	m := &h.Manifest
	if !m.HasBoard(in.Board) {
		return refuse(fmt.Errorf("bundle %s is for boards %v, this box is %s", m.Version, m.Boards, in.Board))
	}
	downgrade := in.olderThanRunning(m)
	if downgrade != "" && !in.AllowDowngrade {
		return refuse(fmt.Errorf("%s: a downgrade is refused unless an admin allows it explicitly (allow-downgrade)", downgrade))
	}
	if total := h.Size + m.PayloadSize(); size >= 0 && size != total {
		what := "truncated"
		if size > total {
			what = "longer than its manifest says"
		}
		return refuse(fmt.Errorf("bundle is %s: %d bytes, its manifest says %d", what, size, total))
	}
	target := otherSlot(in.Running)
	img := m.Slots[target]
	if part := in.Disk.SlotSize(target); part < img.Size {
		return refuse(fmt.Errorf("slot %s partition is %d bytes, the image needs %d", target, part, img.Size))
	}
	wantSHA = normHex(wantSHA)
	if wantSHA != "" && len(wantSHA) != 64 {
		return refuse(errors.New("expected SHA-256 must be 64 hexadecimal digits"))
	}

	// Nothing may boot the inactive slot while it is half written.
	in.report(Progress{Phase: PhaseDisarming})
	if err := disarm(in.Disk, in.Running); err != nil {
		return nil, fmt.Errorf("clear the previous trial: %w", err)
	}
	w, err := in.Disk.slot(target)
	if err != nil {
		return nil, err
	}
	cs := int64(m.ChunkSize)
	where := make([][]int64, len(m.Chunks))
	var zeros []int64
	for i, c := range img.Map {
		if c == zeroChunk {
			zeros = append(zeros, int64(i)*cs)
		} else {
			where[c] = append(where[c], int64(i)*cs)
		}
	}
	totalWork := m.PayloadSize() + int64(len(zeros))*cs
	buf := make([]byte, cs)
	var done int64
	tick := time.Time{}
	progress := func(phase string, done, total int64) {
		if now := in.Now(); now.Sub(tick) >= 500*time.Millisecond || done == total {
			tick = now
			in.report(Progress{Phase: phase, Done: done, Total: total})
		}
	}
	for i, want := range m.Chunks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(src, buf); err != nil {
			return nil, fmt.Errorf("bundle truncated at chunk %d of %d (%d bytes read): %w; slot %s was not armed", i, len(m.Chunks), src.n, err, target)
		}
		sum := sha256.Sum256(buf)
		if hex.EncodeToString(sum[:]) != want {
			return nil, fmt.Errorf("bundle chunk %d does not match its signed hash: the file is damaged; slot %s was not armed", i, target)
		}
		for _, off := range where[i] {
			if _, err := w.WriteAt(buf, off); err != nil {
				return nil, fmt.Errorf("write slot %s: %w", target, err)
			}
		}
		done += cs
		progress(PhaseWriting, done, totalWork)
	}
	if n, _ := io.Copy(io.Discard, io.LimitReader(src, 1)); n > 0 {
		return nil, fmt.Errorf("bundle has data after its last chunk; slot %s was not armed", target)
	}
	if wantSHA != "" {
		if got := hex.EncodeToString(whole.Sum(nil)); got != wantSHA {
			return nil, fmt.Errorf("bundle SHA-256 is %s, not the %s you gave; slot %s was not armed", got, wantSHA, target)
		}
	}
	clear(buf)
	for _, off := range zeros {
		if _, err := w.WriteAt(buf, off); err != nil {
			return nil, fmt.Errorf("write slot %s: %w", target, err)
		}
		done += cs
		progress(PhaseWriting, done, totalWork)
	}
	if err := in.Disk.f.Sync(); err != nil {
		return nil, fmt.Errorf("sync slot %s: %w", target, err)
	}

	// Read back what the device holds now, not what the page cache kept.
	in.Disk.dropCache(w.off, img.Size)
	rb := sha256.New()
	for off := int64(0); off < img.Size; off += cs {
		if _, err := w.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read back slot %s: %w", target, err)
		}
		rb.Write(buf)
		progress(PhaseReadBack, off+cs, img.Size)
	}
	if got := hex.EncodeToString(rb.Sum(nil)); got != img.SHA256 {
		return nil, fmt.Errorf("slot %s reads back different from what was written (SHA-256 %s, want %s): the storage may be failing; not armed", target, got, img.SHA256)
	}
	t := Trial{Slot: target, Version: truncate(m.Version, 100), Armed: in.Now().Unix(), NeedUplink: in.NeedUplink}
	if !m.Created.IsZero() {
		t.Built = m.Created.Unix()
	}
	if err := arm(in.Disk, in.Running, t); err != nil {
		return nil, fmt.Errorf("arm the trial boot of slot %s: %w", target, err)
	}
	res := &Result{Slot: target, Version: m.Version, SignedBy: h.SignedBy, Bytes: src.n, Downgrade: downgrade,
		Message: fmt.Sprintf("version %s written to slot %s and verified; the next boot tries it once and falls back to slot %s unless it passes its health check", m.Version, target, in.Running)}
	in.report(Progress{Phase: PhaseArmed, Done: totalWork, Total: totalWork, Message: res.Message, Result: res})
	return res, nil
}

func normHex(s string) string {
	return string(bytes.ToLower(bytes.TrimSpace([]byte(s))))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// arm makes the next boot try the other slot once: syslinux's boot-once
// command "other" plus edgebox's trial record, in the running slot's ADV.
func arm(d *Disk, running string, t Trial) error {
	adv, err := d.ReadADV(running)
	if err != nil {
		return err
	}
	rec, err := json.Marshal(t)
	if err != nil {
		return err
	}
	adv[advTagBootOnce] = []byte("other")
	adv[advTagTrial] = rec
	return d.WriteADV(running, adv)
}

// disarm removes a pending boot-once and trial record from a slot's ADV
// (nothing is written when there is none).
func disarm(d *Disk, slot string) error {
	adv, err := d.ReadADV(slot)
	if err != nil {
		return err
	}
	if adv[advTagBootOnce] == nil && adv[advTagTrial] == nil {
		return nil
	}
	delete(adv, advTagBootOnce)
	delete(adv, advTagTrial)
	return d.WriteADV(slot, adv)
}

// pending returns the trial record in a slot's ADV and whether syslinux's
// boot-once is still set (armed, not yet booted).
func pending(d *Disk, slot string) (*Trial, bool, error) {
	adv, err := d.ReadADV(slot)
	if err != nil {
		return nil, false, err
	}
	once := len(adv[advTagBootOnce]) > 0
	raw := adv[advTagTrial]
	if raw == nil {
		return nil, once, nil
	}
	var t Trial
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, once, fmt.Errorf("slot %s: unreadable trial record: %w", slot, err)
	}
	return &t, once, nil
}
