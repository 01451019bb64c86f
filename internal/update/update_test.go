package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"edgebox/internal/update/testdisk"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testDisk is an MBR disk image: slot A (active), slot B, each a syslinux
// FAT, like the real image but small; slotA is what slot A holds.
func testDisk(t testing.TB) (disk string, slotA []byte) { return testdisk.Disk(t, Slots) }

type testBundle struct {
	path   string
	key    ed25519.PrivateKey
	images map[string][]byte
	m      *Manifest
}

func makeBundle(t testing.TB, boards []string, key ed25519.PrivateKey) testBundle {
	return makeBundleOf(t, boards, key, "v2-test", time.Unix(1700000000, 0).UTC())
}

func makeBundleOf(t testing.TB, boards []string, key ed25519.PrivateKey, version string, created time.Time) testBundle {
	dir := t.TempDir()
	kernel := make([]byte, 300<<10)
	rand.Read(kernel)
	b := testBundle{path: filepath.Join(dir, "edgebox.bundle"), key: key, images: map[string][]byte{}}
	paths := map[string]string{}
	for _, s := range Slots {
		paths[s] = testdisk.SlotImage(t, dir, "new"+s, kernel)
		b.images[s], _ = os.ReadFile(paths[s])
	}
	f, _ := os.Create(b.path)
	m, err := BuildBundle(f, Manifest{Version: version, Boards: boards, Created: created}, paths, []ed25519.PrivateKey{key})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	b.m = m
	return b
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newKey(t testing.TB) ed25519.PrivateKey { return testdisk.Key(t) }

func slotBytes(t testing.TB, disk, slot string) []byte {
	d, err := OpenDisk(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, _ := d.slot(slot)
	buf := make([]byte, w.size)
	w.ReadAt(buf, 0)
	return buf
}

func install(t testing.TB, disk string, bundle []byte, size int64, trusted ...ed25519.PublicKey) (*Result, []Progress, error) {
	d, err := OpenDisk(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var prog []Progress
	in := &Installer{Disk: d, Running: "A", Board: "qemu", Trusted: trusted, Progress: func(p Progress) { prog = append(prog, p) }}
	res, err := in.Install(context.Background(), bytes.NewReader(bundle), size, "")
	return res, prog, err
}

func TestInstallArmsTrialAndBootFallsBack(t *testing.T) {
	disk, oldA := testDisk(t)
	key := newKey(t)
	b := makeBundle(t, []string{"apu2", "qemu"}, key)
	data, _ := os.ReadFile(b.path)
	if int64(len(data)) >= 2*int64(len(b.images["A"])) {
		t.Errorf("bundle is %d bytes: the two slot images were not deduplicated", len(data))
	}
	res, prog, err := install(t, disk, data, int64(len(data)), key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != "B" || res.Version != "v2-test" || len(prog) < 3 || prog[len(prog)-1].Phase != PhaseArmed {
		t.Fatalf("result %+v, %d progress reports", res, len(prog))
	}
	if !bytes.Equal(slotBytes(t, disk, "B"), b.images["B"]) {
		t.Fatal("slot B does not hold the bundle's B image")
	}
	d0, _ := OpenDisk(disk)
	loc, _ := advLocation(must(d0.slot("A")))
	d0.Close()
	nowA := slotBytes(t, disk, "A")
	for _, off := range loc { // only the ADV may change in the running slot
		copy(nowA[off:off+advSize], oldA[off:off+advSize])
	}
	if !bytes.Equal(nowA, oldA) {
		t.Fatal("the install wrote to the running slot outside its ADV")
	}
	d, _ := OpenDisk(disk)
	defer d.Close()
	tr, once, err := pending(d, "A")
	if err != nil || tr == nil || !once || tr.Slot != "B" || tr.Version != "v2-test" {
		t.Fatalf("trial not armed: %+v once=%v err=%v", tr, once, err)
	}
	st := Store{Dir: t.TempDir()}
	// What syslinux does at the next boot: consume the boot-once.
	adv, _ := d.ReadADV("A")
	delete(adv, advTagBootOnce)
	d.WriteADV("A", adv)
	bs, err := Boot(d, "B", st, time.Now())
	if err != nil || !bs.OnTrial || bs.Trial == nil || bs.Trial.Version != "v2-test" {
		t.Fatalf("trial boot state: %+v %v", bs, err)
	}
	// The trial fails its health check and reboots; slot A comes back.
	st.WriteTrialReport(TrialReport{Slot: "B", Version: "v2-test", Time: time.Now(), Reason: "web is not answering"})
	bs, err = Boot(d, "A", st, time.Now())
	if err != nil || bs.OnTrial || bs.RolledBack == nil || !strings.Contains(bs.RolledBack.Reason, "web is not answering") {
		t.Fatalf("fallback boot state: %+v %v", bs, err)
	}
	if h := st.History(); len(h) != 1 || h[0].Kind != EventRolledBack {
		t.Fatalf("history %+v", h)
	}
	if tr, _, _ := pending(d, "A"); tr != nil {
		t.Fatal("trial record not cleared after the rollback")
	}
	// A later boot of A is an ordinary one.
	if bs, _ = Boot(d, "A", st, time.Now()); bs.RolledBack != nil || bs.OnTrial {
		t.Fatalf("second boot after rollback: %+v", bs)
	}
}

func TestInstallConfirm(t *testing.T) {
	disk, _ := testDisk(t)
	key := newKey(t)
	b := makeBundle(t, []string{"qemu"}, key)
	data, _ := os.ReadFile(b.path)
	if _, _, err := install(t, disk, data, -1, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	d, _ := OpenDisk(disk)
	defer d.Close()
	st := Store{Dir: t.TempDir()}
	if err := Confirm(d, "B", st, "v2-test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if d.Active() != "B" {
		t.Fatalf("active %q after confirm", d.Active())
	}
	if tr, once, _ := pending(d, "A"); tr != nil || once {
		t.Fatal("old slot still carries the trial")
	}
	bs, _ := Boot(d, "B", st, time.Now())
	if bs.OnTrial || bs.RolledBack != nil {
		t.Fatalf("confirmed boot: %+v", bs)
	}
	// Now B runs confirmed and A is the inactive slot for the next update;
	// an install from A (not running) is refused.
	in := &Installer{Disk: d, Running: "A", Board: "qemu", Trusted: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	if _, err := in.Install(context.Background(), bytes.NewReader(data), -1, ""); !errors.Is(err, errRefused) {
		t.Fatalf("install from the unconfirmed slot: %v", err)
	}
}

func TestInstallRefusesBeforeWriting(t *testing.T) {
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	good := makeBundle(t, []string{"qemu"}, key)
	data, _ := os.ReadFile(good.path)
	apu := makeBundle(t, []string{"apu2"}, key)
	apuData, _ := os.ReadFile(apu.path)
	other := newKey(t)
	badSig := bytes.Clone(data)
	i := bytes.Index(badSig, []byte("v2-test"))
	badSig[i] = 'V'
	cases := []struct {
		name    string
		data    []byte
		size    int64
		trusted []ed25519.PublicKey
		want    string
	}{
		{"bad signature", badSig, int64(len(badSig)), []ed25519.PublicKey{pub}, "altered"},
		{"untrusted key", data, int64(len(data)), []ed25519.PublicKey{other.Public().(ed25519.PublicKey)}, "not signed by a key this box trusts"},
		{"no keys", data, int64(len(data)), nil, "trusts no"},
		{"wrong board", apuData, int64(len(apuData)), []ed25519.PublicKey{pub}, "this box is qemu"},
		{"truncated", data[:len(data)-1000], int64(len(data) - 1000), []ed25519.PublicKey{pub}, "truncated"},
		{"not a bundle", []byte("hello"), 5, []ed25519.PublicKey{pub}, "not an edgebox update bundle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			disk, _ := testDisk(t)
			before := sha256.Sum256(append(slotBytes(t, disk, "A"), slotBytes(t, disk, "B")...))
			_, _, err := install(t, disk, c.data, c.size, c.trusted...)
			if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want refusal with %q", err, c.want)
			}
			after := sha256.Sum256(append(slotBytes(t, disk, "A"), slotBytes(t, disk, "B")...))
			if before != after {
				t.Fatal("a refused bundle changed the disk")
			}
		})
	}
}

func TestInstallDamagedPayloadNotArmed(t *testing.T) {
	disk, _ := testDisk(t)
	key := newKey(t)
	b := makeBundle(t, []string{"qemu"}, key)
	data, _ := os.ReadFile(b.path)
	data[len(data)-10] ^= 0xFF
	_, _, err := install(t, disk, data, int64(len(data)), key.Public().(ed25519.PublicKey))
	if err == nil || !strings.Contains(err.Error(), "does not match its signed hash") {
		t.Fatalf("damaged chunk: %v", err)
	}
	// Unknown length: the truncation shows only at the end; nothing armed.
	_, _, err = install(t, disk, data[:len(data)-5000], -1, key.Public().(ed25519.PublicKey))
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated stream: %v", err)
	}
	d, _ := OpenDisk(disk)
	defer d.Close()
	if tr, once, _ := pending(d, "A"); tr != nil || once {
		t.Fatal("a damaged bundle armed a trial")
	}
}

func TestADVRoundTripAndTornCopy(t *testing.T) {
	a := ADV{advTagBootOnce: []byte("other"), advTagTrial: []byte(`{"s":"B"}`)}
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseADV(b)
	if err != nil || string(got[advTagBootOnce]) != "other" || string(got[advTagTrial]) != `{"s":"B"}` {
		t.Fatalf("round trip: %v %v", got, err)
	}
	// A torn first copy: syslinux (and we) use the second.
	b[20] ^= 0xFF
	if got, err = parseADV(b); err != nil || string(got[advTagBootOnce]) != "other" {
		t.Fatalf("second copy: %v %v", got, err)
	}
	b[advSize+20] ^= 0xFF
	if got, err = parseADV(b); err == nil || len(got) != 0 {
		t.Fatal("two bad copies must read as an empty ADV")
	}
	if _, err := (ADV{3: bytes.Repeat([]byte("x"), 255), 4: bytes.Repeat([]byte("y"), 255)}).Encode(); err == nil {
		t.Fatal("oversized ADV encoded")
	}
}

func FuzzParseADV(f *testing.F) {
	b, _ := ADV{advTagBootOnce: []byte("other")}.Encode()
	f.Add(b)
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseADV(data)
		if err != nil {
			return
		}
		enc, err := a.Encode()
		if err != nil {
			t.Fatalf("parsed ADV does not encode: %v", err)
		}
		again, err := parseADV(enc)
		if err != nil || len(again) != len(a) {
			t.Fatalf("re-parse: %v %v", again, err)
		}
	})
}

func FuzzReadHeader(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	m := Manifest{Format: formatVersion, Version: "v", Boards: []string{"qemu"}, ChunkSize: 4096, Chunks: []string{strings.Repeat("ab", 32)},
		Slots: map[string]SlotImage{"A": {Size: 4096, SHA256: strings.Repeat("cd", 32), Map: []int{0}}, "B": {Size: 4096, SHA256: strings.Repeat("cd", 32), Map: []int{-1}}}}
	var b bytes.Buffer
	if err := writeHeader(&b, &m, []ed25519.PrivateKey{key}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(Magic + "\x00\x00\x00\x02{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := h.Manifest.Validate(); err != nil {
			t.Fatalf("ReadHeader accepted an invalid manifest: %v", err)
		}
		h.Verify([]ed25519.PublicKey{key.Public().(ed25519.PublicKey)})
	})
}

func FuzzFATFile(f *testing.F) {
	dir := f.TempDir()
	img := testdisk.SlotImage(f, dir, "fuzz", []byte("kernel"))
	data, _ := os.ReadFile(img)
	f.Add(data[:64<<10])
	f.Fuzz(func(t *testing.T, data []byte) {
		ext, size, err := fatFile(bytes.NewReader(data), "ldlinux.sys")
		if err != nil {
			return
		}
		var total int64
		for _, e := range ext {
			total += e.Len
		}
		if total != size {
			t.Fatalf("extents cover %d bytes of a %d-byte file", total, size)
		}
	})
}
