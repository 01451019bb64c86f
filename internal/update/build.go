package update

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// defaultChunkSize is the unit of deduplication and verification.
const defaultChunkSize = 64 << 10

// BuildBundle writes a bundle for the two slot partition images (files
// named by slot) to w. m carries the version, boards, kernel and initramfs
// descriptions; its chunk and slot fields are filled in here.
func BuildBundle(w io.Writer, m Manifest, slotImages map[string]string, keys []ed25519.PrivateKey) (*Manifest, error) {
	if m.ChunkSize == 0 {
		m.ChunkSize = defaultChunkSize
	}
	m.Format = formatVersion
	m.Slots = map[string]SlotImage{}
	m.Chunks = nil
	type source struct {
		path string
		off  int64
	}
	index := map[string]int{}
	var sources []source
	buf := make([]byte, m.ChunkSize)
	for _, slot := range Slots {
		path := slotImages[slot]
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("slot %s image: %w", slot, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if fi.Size()%int64(m.ChunkSize) != 0 {
			f.Close()
			return nil, fmt.Errorf("slot %s image is %d bytes, not a multiple of %d", slot, fi.Size(), m.ChunkSize)
		}
		img := SlotImage{Size: fi.Size()}
		whole := sha256.New()
		for off := int64(0); off < fi.Size(); off += int64(m.ChunkSize) {
			if _, err := f.ReadAt(buf, off); err != nil {
				f.Close()
				return nil, fmt.Errorf("slot %s image: %w", slot, err)
			}
			whole.Write(buf)
			if allZero(buf) {
				img.Map = append(img.Map, zeroChunk)
				continue
			}
			sum := sha256.Sum256(buf)
			h := hex.EncodeToString(sum[:])
			i, ok := index[h]
			if !ok {
				i = len(m.Chunks)
				index[h] = i
				m.Chunks = append(m.Chunks, h)
				sources = append(sources, source{path, off})
			}
			img.Map = append(img.Map, i)
		}
		f.Close()
		img.SHA256 = hex.EncodeToString(whole.Sum(nil))
		m.Slots[slot] = img
	}
	if err := writeHeader(w, &m, keys); err != nil {
		return nil, err
	}
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, s := range sources {
		f := files[s.path]
		if f == nil {
			var err error
			if f, err = os.Open(s.path); err != nil {
				return nil, err
			}
			files[s.path] = f
		}
		if _, err := f.ReadAt(buf, s.off); err != nil {
			return nil, err
		}
		if _, err := w.Write(buf); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// FileInfo describes a file by size and SHA-256.
func FileInfo(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
