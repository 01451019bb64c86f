package update

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func keyEvent(code uint16, value int32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint16(b[16:], 1)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], uint32(value))
	return b
}

func TestWaitLongPress(t *testing.T) {
	clock := time.Unix(1000, 0)
	times := []time.Duration{0, 3 * time.Second, 4 * time.Second, 15 * time.Second}
	i := 0
	now := func() time.Time { d := times[min(i, len(times)-1)]; i++; return clock.Add(d) }
	// A short press (3 s) does nothing; a 11 s hold does.
	var in bytes.Buffer
	in.Write(keyEvent(KeyRestart, 1))
	in.Write(keyEvent(KeyRestart, 0))
	in.Write(keyEvent(KeyRestart, 1))
	in.Write(keyEvent(KeyRestart, 0))
	if !WaitLongPress(&in, KeyRestart, LongPress, now) {
		t.Fatal("a 11 s hold was not a long press")
	}
	i = 0
	in.Reset()
	in.Write(keyEvent(KeyRestart, 1))
	in.Write(keyEvent(KeyRestart, 0))
	in.Write(keyEvent(0x74, 1)) // another key, long after
	if WaitLongPress(&in, KeyRestart, LongPress, now) {
		t.Fatal("a short press counted as a long one")
	}
}

func TestEraseSettingsKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "admin"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o600)
	st := Store{Dir: filepath.Join(dir, "update")}
	st.Add(Event{Kind: EventConfirmed, Slot: "B"})
	if err := EraseSettings(dir, "update"); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 || left[0].Name() != "update" || len(st.History()) != 1 {
		t.Fatalf("after erase: %v, history %v", left, st.History())
	}
	if err := EraseSettings(filepath.Join(dir, "absent")); err != nil {
		t.Fatal(err)
	}
}
