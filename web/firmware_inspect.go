package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"edgebox/internal/update"
)

// FirmwareInfo compares a bundle with the running firmware before it is
// installed, from the bundle's header alone (the signature is checked by
// init at install time).
type FirmwareInfo struct {
	Current string    `json:"current"`
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	Boards  []string  `json:"boards"`
	// Board is this box's board; BoardOK says whether the bundle is for it.
	Board   string `json:"board,omitempty"`
	BoardOK bool   `json:"board_ok"`
	// Compare is "newer", "same", "older" or "unknown" (versions that do
	// not compare, such as development builds).
	Compare string `json:"compare"`
	Message string `json:"message"`
}

// handleFirmwareInspect reads the start of a bundle (the browser sends
// its first MiB, the header is smaller, as the form's file "file").
func (s *Server) handleFirmwareInspect(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, update.MaxManifest+128<<10)
	f, _, err := r.FormFile("file")
	if err != nil {
		apiError(w, http.StatusBadRequest, errors.New("file: send the first MiB of the bundle as the form's file \"file\""))
		return
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	h, err := update.ReadHeader(bytes.NewReader(b))
	if err != nil {
		apiError(w, http.StatusBadRequest, fmt.Errorf("file: %w", notFirmware(fileKind(b))))
		return
	}
	lang := langOf(r)
	// The page sends the whole file's size: a bundle cut short by its
	// download is named before it is uploaded.
	if size, err := strconv.ParseInt(r.FormValue("size"), 10, 64); err == nil && size > 0 && size < h.Size+h.Manifest.PayloadSize() {
		apiError(w, http.StatusBadRequest, errors.New("file: "+trf(lang, "this file is incomplete (%s of %s): its download was cut off. Download it again, then choose it here.", sizeWords(size), sizeWords(h.Size+h.Manifest.PayloadSize()))))
		return
	}
	info := FirmwareInfo{Current: s.opt.Version, Version: h.Manifest.Version, Created: h.Manifest.Created, Boards: h.Manifest.Boards, BoardOK: true}
	if st, err := s.initClient().Status(r.Context()); err == nil {
		info.Current, info.Board = st.Version, st.Board
		info.BoardOK = h.Manifest.HasBoard(st.Board)
	}
	info.Compare = "unknown"
	if c, ok := update.CompareVersions(info.Version, info.Current); ok {
		info.Compare = map[int]string{-1: "older", 0: "same", 1: "newer"}[c]
	} else if info.Version == info.Current {
		info.Compare = "same" // development builds ("877f20f-dirty") do not compare, but are equal
	}
	switch {
	case !info.BoardOK:
		info.Message = trf(lang, "This file is for %v, not for this box (%s): it would be refused. Get the release for %s.", info.Boards, info.Board, info.Board)
	case info.Compare == "older":
		info.Message = trf(lang, "Version %s is older than the installed %s: install it only to go back on purpose (tick the box below).", info.Version, info.Current)
	case info.Compare == "same":
		info.Message = trf(lang, "Version %s is already installed: installing it again changes nothing.", info.Version)
	case info.Compare == "unknown":
		info.Message = trf(lang, "Installed: %s. This file: %s. Which is newer cannot be told from the names: the box checks the build dates when installing.", info.Current, info.Version)
	default:
		info.Message = trf(lang, "Installed: %s. This file: %s (newer), built %s.", info.Current, info.Version, info.Created.UTC().Format("2006-01-02"))
	}
	apiJSON(w, http.StatusOK, info)
}
