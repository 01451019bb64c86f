package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// An update bundle is one file:
//
//	magic "EDGEBOX-BUNDLE1\n"   16 bytes
//	manifest length             uint32, big endian
//	manifest                    JSON (Manifest)
//	signature count             uint8
//	signatures                  count x (32-byte ed25519 public key, 64-byte signature)
//	chunks                      the distinct non-zero chunks of the slot images
//
// Each signature is over signedPrefix + the manifest bytes. The manifest
// names the SHA-256 of every chunk and, per slot, which chunk goes where,
// so the installer checks every chunk against the signed manifest before
// writing it, and never holds more than one chunk in memory.
const (
	Magic         = "EDGEBOX-BUNDLE1\n"
	signedPrefix  = "edgebox update bundle v1\n"
	formatVersion = 1
	// MaxManifest bounds the manifest a box will read.
	MaxManifest = 1 << 20
	maxSigs     = 8
	// zeroChunk in a slot map means "all zero bytes", stored nowhere.
	zeroChunk = -1
)

// File describes one input of the bundle, for people and audits.
type File struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SlotImage is the whole boot partition content for one slot.
type SlotImage struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Map has one entry per chunk of the image: an index into
	// Manifest.Chunks, or zeroChunk.
	Map []int `json:"map"`
}

// Manifest is the signed description of a bundle.
type Manifest struct {
	Format    int                  `json:"format"`
	Version   string               `json:"version"`
	Boards    []string             `json:"boards"`
	Created   time.Time            `json:"created"`
	Kernel    File                 `json:"kernel"`
	Initramfs File                 `json:"initramfs"`
	Cmdline   string               `json:"cmdline,omitempty"` // extra kernel arguments, if any
	ChunkSize int                  `json:"chunk_size"`
	Chunks    []string             `json:"chunks"` // SHA-256 of each stored chunk, in bundle order
	Slots     map[string]SlotImage `json:"slots"`
}

// PayloadSize is the number of chunk bytes after the header.
func (m *Manifest) PayloadSize() int64 { return int64(len(m.Chunks)) * int64(m.ChunkSize) }

// Validate checks the manifest's internal consistency (not its signature).
func (m *Manifest) Validate() error {
	if m.Format != formatVersion {
		return fmt.Errorf("bundle format %d: this firmware installs format %d", m.Format, formatVersion)
	}
	if m.Version == "" || len(m.Version) > 128 || strings.ContainsAny(m.Version, "\n\r\x00") {
		return errors.New("manifest: version missing or not printable")
	}
	if len(m.Boards) == 0 {
		return errors.New("manifest: no boards named")
	}
	if m.ChunkSize < 4096 || m.ChunkSize > 4<<20 || m.ChunkSize&(m.ChunkSize-1) != 0 {
		return fmt.Errorf("manifest: chunk size %d is not a power of two between 4 KiB and 4 MiB", m.ChunkSize)
	}
	for i, h := range m.Chunks {
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("manifest: chunk %d: bad SHA-256 %q", i, h)
		}
	}
	for _, s := range Slots {
		img, ok := m.Slots[s]
		if !ok {
			return fmt.Errorf("manifest: no image for slot %s", s)
		}
		if img.Size <= 0 || img.Size > maxSlotSize || img.Size%int64(m.ChunkSize) != 0 {
			return fmt.Errorf("manifest: slot %s: size %d is not a whole number of chunks", s, img.Size)
		}
		if int64(len(img.Map)) != img.Size/int64(m.ChunkSize) {
			return fmt.Errorf("manifest: slot %s: map has %d entries for %d chunks", s, len(img.Map), img.Size/int64(m.ChunkSize))
		}
		for _, c := range img.Map {
			if c != zeroChunk && (c < 0 || c >= len(m.Chunks)) {
				return fmt.Errorf("manifest: slot %s: chunk index %d out of range", s, c)
			}
		}
		if b, err := hex.DecodeString(img.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("manifest: slot %s: bad SHA-256", s)
		}
	}
	if len(m.Slots) != len(Slots) {
		return errors.New("manifest: unknown slots")
	}
	return nil
}

// HasBoard reports whether the bundle is meant for board.
func (m *Manifest) HasBoard(board string) bool { return slices.Contains(m.Boards, board) }

// Signature is one ed25519 signature of the manifest.
type Signature struct {
	Key ed25519.PublicKey
	Sig []byte
}

// Header is what precedes the chunks.
type Header struct {
	Manifest    Manifest
	Raw         []byte // the manifest bytes as signed
	Signatures  []Signature
	Size        int64 // header bytes, so the bundle is Size + PayloadSize long
	SignedBy    string
	ManifestSum string
}

// ReadHeader reads and decodes the header of a bundle, without checking
// signatures (Verify does that).
func ReadHeader(r io.Reader) (*Header, error) {
	var magic [len(Magic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("not an edgebox update bundle (too short: %w)", err)
	}
	if string(magic[:]) != Magic {
		return nil, errors.New("not an edgebox update bundle (wrong magic); build one with `make image` (out/edgebox.bundle)")
	}
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, fmt.Errorf("bundle header truncated: %w", err)
	}
	if n == 0 || n > MaxManifest {
		return nil, fmt.Errorf("bundle manifest of %d bytes refused (at most %d)", n, MaxManifest)
	}
	h := &Header{Raw: make([]byte, n)}
	if _, err := io.ReadFull(r, h.Raw); err != nil {
		return nil, fmt.Errorf("bundle manifest truncated: %w", err)
	}
	var count [1]byte
	if _, err := io.ReadFull(r, count[:]); err != nil {
		return nil, fmt.Errorf("bundle signatures truncated: %w", err)
	}
	if count[0] == 0 || count[0] > maxSigs {
		return nil, fmt.Errorf("bundle carries %d signatures (1..%d expected): it is not signed", count[0], maxSigs)
	}
	for range int(count[0]) {
		var buf [ed25519.PublicKeySize + ed25519.SignatureSize]byte
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return nil, fmt.Errorf("bundle signatures truncated: %w", err)
		}
		h.Signatures = append(h.Signatures, Signature{Key: ed25519.PublicKey(bytes.Clone(buf[:32])), Sig: bytes.Clone(buf[32:])})
	}
	dec := json.NewDecoder(bytes.NewReader(h.Raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h.Manifest); err != nil {
		return nil, fmt.Errorf("bundle manifest: %w", err)
	}
	if err := h.Manifest.Validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(h.Raw)
	h.ManifestSum = hex.EncodeToString(sum[:])
	h.Size = int64(len(Magic)) + 4 + int64(n) + 1 + int64(count[0])*(ed25519.PublicKeySize+ed25519.SignatureSize)
	return h, nil
}

// Verify checks that one signature is by a trusted key and is good.
func (h *Header) Verify(trusted []ed25519.PublicKey) error {
	if len(trusted) == 0 {
		return errors.New("this box trusts no update signing keys; it cannot install updates")
	}
	msg := append([]byte(signedPrefix), h.Raw...)
	known := false
	for _, s := range h.Signatures {
		for _, k := range trusted {
			if !bytes.Equal(k, s.Key) {
				continue
			}
			known = true
			if ed25519.Verify(k, msg, s.Sig) {
				h.SignedBy = keyID(k)
				return nil
			}
		}
	}
	if known {
		return errors.New("bundle signature is invalid: the bundle was altered after signing")
	}
	return errors.New("bundle is not signed by a key this box trusts")
}

// keyID is the short name of a public key (first 8 bytes of its SHA-256).
func keyID(k ed25519.PublicKey) string {
	s := sha256.Sum256(k)
	return hex.EncodeToString(s[:8])
}

// writeHeader writes the header of a bundle with manifest m signed by keys.
func writeHeader(w io.Writer, m *Manifest, keys []ed25519.PrivateKey) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if len(keys) == 0 || len(keys) > maxSigs {
		return fmt.Errorf("sign with 1..%d keys", maxSigs)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(raw) > MaxManifest {
		return fmt.Errorf("manifest is %d bytes, more than %d", len(raw), MaxManifest)
	}
	var b bytes.Buffer
	b.WriteString(Magic)
	binary.Write(&b, binary.BigEndian, uint32(len(raw)))
	b.Write(raw)
	b.WriteByte(byte(len(keys)))
	msg := append([]byte(signedPrefix), raw...)
	for _, k := range keys {
		b.Write(k.Public().(ed25519.PublicKey))
		b.Write(ed25519.Sign(k, msg))
	}
	_, err = w.Write(b.Bytes())
	return err
}
