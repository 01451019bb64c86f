package modem

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"edgebox/internal/atomicfile"
)

// pinGuard remembers PINs a SIM rejected (as salted hashes, per ICCID) so
// the box never sends the same wrong PIN twice, not even after a restart:
// three tries lock the SIM, and the installer would need the PUK. It also
// remembers the PIN each SIM last accepted (key goodPrefix+ICCID in the
// same record), so that a SIM on its last attempt gets only a PIN it is
// known to take.
type pinGuard struct {
	mu   sync.Mutex
	path string              // "" keeps the record in memory only
	bad  map[string][]string // ICCID -> hashes
}

const pinGuardFile = ".rejected-pins.json"

func newPINGuard(dir string) *pinGuard {
	g := &pinGuard{bad: map[string][]string{}}
	if dir != "" {
		g.path = filepath.Join(dir, pinGuardFile)
		if b, err := os.ReadFile(g.path); err == nil {
			json.Unmarshal(b, &g.bad) // a corrupt record only loses the memory
		}
	}
	return g
}

func pinHash(iccid, pin string) string {
	h := sha256.Sum256([]byte("edgebox-pin\x00" + iccid + "\x00" + pin))
	return hex.EncodeToString(h[:])
}

func (g *pinGuard) rejected(iccid, pin string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := pinHash(iccid, pin)
	for _, x := range g.bad[iccid] {
		if x == h {
			return true
		}
	}
	return false
}

func (g *pinGuard) anyRejected(iccid string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.bad[iccid]) > 0
}

func (g *pinGuard) reject(iccid, pin string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.bad[iccid] = append(g.bad[iccid], pinHash(iccid, pin))
	g.saveLocked()
}

// goodPrefix keys the accepted PIN's hash in the record; older records
// have no such keys and read as "none known".
const goodPrefix = "accepted:"

func (g *pinGuard) accepted(iccid, pin string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	good := []string{pinHash(iccid, pin)}
	if _, ok := g.bad[iccid]; !ok && slices.Equal(g.bad[goodPrefix+iccid], good) {
		return
	}
	delete(g.bad, iccid)
	g.bad[goodPrefix+iccid] = good
	g.saveLocked()
}

// knownGood: pin is the PIN this SIM accepted last.
func (g *pinGuard) knownGood(iccid, pin string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Contains(g.bad[goodPrefix+iccid], pinHash(iccid, pin))
}

func (g *pinGuard) saveLocked() {
	if g.path == "" {
		return
	}
	b, err := json.Marshal(g.bad)
	if err != nil {
		return
	}
	os.MkdirAll(filepath.Dir(g.path), 0o700)
	atomicfile.WriteFile(g.path, b, 0o600)
}
