package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"edgebox/internal/lazyregexp"
	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/internal/update"
)

// MaxFirmware bounds firmware uploads: a bundle (kernel plus initramfs)
// is well under 100 MiB.
var MaxFirmware int64 = 256 << 20

// FirmwareUpload is the answer to a firmware upload.
type FirmwareUpload struct {
	OK        bool   `json:"ok"`
	Slot      string `json:"slot,omitempty"`
	Version   string `json:"version,omitempty"`
	SignedBy  string `json:"signed_by,omitempty"`
	Size      int64  `json:"size"`
	Message   string `json:"message"`
	Rebooting bool   `json:"rebooting,omitempty"`
}

var hexSHA256 = lazyregexp.New(`^[0-9a-fA-F]{64}$`)

// handleFirmware installs an uploaded update bundle: the upload is streamed
// to init (POST /v1/update on its socket), which checks the signature and
// board before writing anything, writes the inactive boot slot, reads it
// back and arms a trial boot. Nothing is stored on /perm on the way.
//
// The body is the bundle itself, or a multipart form with an optional
// field sha256 before the file. ?reboot=1 reboots into the trial when the
// install succeeded; ?allow_downgrade=1 installs an older bundle. With "Accept: application/x-ndjson" the answer is the
// stream of progress reports (update.Progress) instead of one JSON object.
func (s *Server) handleFirmware(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > MaxFirmware+1<<20 {
		apiError(w, http.StatusRequestEntityTooLarge, errTooLarge{MaxFirmware})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxFirmware+1<<20)
	want := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Firmware-SHA256")))
	var src io.Reader = r.Body
	size := r.ContentLength
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		size = -1
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
	// Look at the start before bothering init: a wrong file or an
	// oversized one is refused here.
	head := make([]byte, min(MaxFirmware+1, 64<<10))
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		err = wrapTooLarge(err)
		apiError(w, uploadStatus(err), fmt.Errorf("file: %w", err))
		return
	}
	head = head[:n]
	switch {
	case int64(n) > MaxFirmware:
		apiError(w, http.StatusRequestEntityTooLarge, errTooLarge{MaxFirmware})
		return
	case n == 0:
		apiError(w, http.StatusBadRequest, errors.New("file: the upload is empty"))
		return
	case !strings.HasPrefix(string(head), update.Magic):
		apiError(w, http.StatusBadRequest, fmt.Errorf("file: %w", notFirmware(fileKind(head))))
		return
	}
	body := &limitedBody{r: io.MultiReader(strings.NewReader(string(head)), src), left: MaxFirmware}
	ndjson := strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
	var enc *json.Encoder
	var flush func() error
	rc := http.NewResponseController(w)
	// Progress goes out while the upload still comes in (see init's
	// handler): the HTTP/1 server must not discard the unread body.
	rc.EnableFullDuplex()
	if ndjson {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriter(w)
		enc = json.NewEncoder(bw)
		flush = func() error {
			if err := bw.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
	}
	reboot := r.URL.Query().Get("reboot") == "1"
	// The route needs admin scope, so only an admin can allow a downgrade;
	// init refuses an older bundle without it and logs one installed with it.
	opts := update.InstallOptions{Reboot: reboot, AllowDowngrade: r.URL.Query().Get("allow_downgrade") == "1"}
	c := update.Client{Client: localapi.NewClient(sysapi.SocketName)}
	res, err := c.Install(r.Context(), body, size, want, opts, func(p update.Progress) {
		if enc != nil {
			enc.Encode(p)
			flush()
		}
	})
	if err != nil {
		s.log.Warn("firmware not installed", "err", err, "from", clientAddr(r))
		cause := err
		err = installWords(err) // filekind.go
		// Read the rest of a refused upload so the client, still sending,
		// gets the answer instead of a reset connection.
		io.Copy(io.Discard, body)
		if enc != nil {
			var tl errTooLarge
			if errors.As(body.err, &tl) {
				err = tl
			}
			enc.Encode(update.Progress{Phase: update.PhaseFailed, Error: err.Error()})
			flush()
			return
		}
		status := http.StatusBadRequest
		if errors.As(body.err, new(errTooLarge)) {
			status, err = http.StatusRequestEntityTooLarge, body.err
		}
		if err.Error() != cause.Error() { // in words: placed at the file
			apiError(w, status, fmt.Errorf("file: %w", err))
			return
		}
		apiError(w, status, fmt.Errorf("firmware not installed: %w", err))
		return
	}
	s.log.Info("firmware installed; trial boot armed", "slot", res.Slot, "version", res.Version, "signed_by", res.SignedBy, "from", clientAddr(r))
	if enc != nil {
		return // the last progress line carried the result
	}
	apiJSON(w, http.StatusOK, FirmwareUpload{OK: true, Slot: res.Slot, Version: res.Version, SignedBy: res.SignedBy,
		Size: res.Bytes, Message: res.Message, Rebooting: reboot})
}

// limitedBody stops an upload at the firmware size limit.
type limitedBody struct {
	r    io.Reader
	left int64
	err  error
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.err = errTooLarge{MaxFirmware}
		return 0, l.err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		l.err = errTooLarge{MaxFirmware}
		return 0, l.err
	}
	l.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = wrapTooLarge(err)
		l.err = err
	}
	return n, err
}

func wrapTooLarge(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge{MaxFirmware}
	}
	return err
}
