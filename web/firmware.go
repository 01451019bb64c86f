package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"edgebox/internal/atomicfile"
	"edgebox/internal/paths"
)

// MaxFirmware bounds firmware uploads: a kernel plus initramfs is well
// under 100 MiB.
var MaxFirmware int64 = 256 << 20

// FirmwareUpload describes an uploaded, verified firmware file waiting to
// be installed.
type FirmwareUpload struct {
	OK       bool      `json:"ok"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Kind     string    `json:"kind"`
	Uploaded time.Time `json:"uploaded"`
	Message  string    `json:"message"`
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// firmwareKind recognises what the file starts with.
func firmwareKind(head []byte) string {
	switch {
	case len(head) >= 512 && head[510] == 0x55 && head[511] == 0xAA:
		return "disk image (MBR)"
	case len(head) >= 4 && string(head[:4]) == "\x28\xb5\x2f\xfd":
		return "zstd archive"
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return "gzip archive"
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return "tar archive"
	}
	return ""
}

// handleFirmware streams an upload to /perm, hashing it on the way, and
// keeps it only if it is whole, of a known kind and matches the SHA-256
// the admin gave (form field sha256 before the file, or header
// X-Firmware-SHA256).
func (s *Server) handleFirmware(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFirmware+1<<20)
	want := strings.ToLower(r.Header.Get("X-Firmware-SHA256"))
	var src io.Reader = r.Body
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			apiError(w, http.StatusBadRequest, err)
			return
		}
		var file *multipart.Part
		for file == nil {
			p, err := mr.NextPart()
			if err != nil {
				apiError(w, uploadStatus(wrapTooLarge(err)), errors.New("file: no firmware file in the upload"))
				return
			}
			switch {
			case p.FileName() != "":
				file = p
			case p.FormName() == "sha256":
				b, _ := io.ReadAll(io.LimitReader(p, 200))
				if v := strings.TrimSpace(string(b)); v != "" {
					want = strings.ToLower(v)
				}
			}
		}
		src = file
	}
	if want != "" && !hexSHA256.MatchString(want) {
		apiError(w, http.StatusBadRequest, errors.New("sha256: 64 hexadecimal digits, as printed by sha256sum"))
		return
	}
	dir := filepath.Join(paths.DataDir(), "firmware")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	part := filepath.Join(dir, "upload.part")
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	defer os.Remove(part) // only a verified file is kept, under another name
	h := sha256.New()
	head := &headBuffer{max: 512}
	n, err := io.Copy(io.MultiWriter(f, h, head), io.LimitReader(src, MaxFirmware+1))
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		err = wrapTooLarge(err)
		apiError(w, uploadStatus(err), fmt.Errorf("file: %w", err))
		return
	}
	if n > MaxFirmware {
		apiError(w, http.StatusRequestEntityTooLarge, errTooLarge{MaxFirmware})
		return
	}
	sum := hex.EncodeToString(h.Sum(nil))
	kind := firmwareKind(head.b)
	switch {
	case n == 0:
		apiError(w, http.StatusBadRequest, errors.New("file: the upload is empty"))
		return
	case want != "" && want != sum:
		apiError(w, http.StatusBadRequest, fmt.Errorf("file: SHA-256 is %s, not the %s you gave: the file is damaged or not the one meant", sum, want))
		return
	case kind == "":
		apiError(w, http.StatusBadRequest, errors.New("file: not an edgebox firmware (neither a disk image nor a compressed archive)"))
		return
	}
	final := filepath.Join(dir, "pending.bin")
	if err := os.Rename(part, final); err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	atomicfile.SyncDir(dir)
	up := FirmwareUpload{OK: true, Size: n, SHA256: sum, Kind: kind, Uploaded: time.Now().UTC().Truncate(time.Second)}
	up.Message = fmt.Sprintf("Firmware received and verified (%s, %s, SHA-256 %s…). Installing into the other boot slot is not available in this build yet.", kind, humanBytes(float64(n)), sum[:16])
	meta, _ := json.MarshalIndent(up, "", "  ")
	atomicfile.WriteFile(filepath.Join(dir, "pending.json"), meta, 0o600)
	slog.Info("firmware uploaded", "bytes", n, "sha256", sum, "kind", kind, "from", clientAddr(r))
	apiJSON(w, http.StatusOK, up)
}

func wrapTooLarge(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge{MaxFirmware}
	}
	return err
}

type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
