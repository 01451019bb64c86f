package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"edgebox/internal/config"
)

// ConfigSet changes settings by path, all at once: either every change is
// valid and stored, or nothing is.
type ConfigSet struct {
	Settings map[string]any `json:"settings"`
	// DryRun validates without storing.
	DryRun bool `json:"dry_run,omitempty"`
}

// ConfigResult answers a config change or validation.
type ConfigResult struct {
	OK       bool         `json:"ok"`
	Errors   []FieldError `json:"errors,omitempty"`
	Reloaded []string     `json:"reloaded,omitempty"`
	// ReloadErrors name services that could not be asked to reload; the
	// config is stored and they apply it when they restart.
	ReloadErrors []string `json:"reload_errors,omitempty"`
}

// ConfigValue is one setting.
type ConfigValue struct {
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Backup is the file an admin downloads to restore the box's setup later.
// It holds the whole config including secrets: keep it safe.
type Backup struct {
	Format   string          `json:"edgebox_backup"` // "1"
	Created  time.Time       `json:"created"`
	Hostname string          `json:"hostname,omitempty"`
	Version  string          `json:"firmware,omitempty"`
	Config   json.RawMessage `json:"config"`
}

// MaxBackupSize bounds restore uploads.
const MaxBackupSize = 1 << 20

func (s *Server) handleConfigGet(w http.ResponseWriter, r *http.Request) {
	c, err := s.loadConfig()
	if err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	doc, err := toDoc(c)
	if err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	redact(doc)
	if p := r.URL.Query().Get("path"); p != "" {
		v, err := getPath(doc, p)
		if err != nil {
			apiError(w, http.StatusNotFound, err)
			return
		}
		apiJSON(w, http.StatusOK, ConfigValue{Path: p, Value: v})
		return
	}
	apiJSON(w, http.StatusOK, doc)
}

// applyConfig validates next, stores it unless dry, and asks the services
// whose sections changed to reload.
func (s *Server) applyConfig(ctx context.Context, old, next map[string]any, dry bool) (ConfigResult, int) {
	c, err := fromDoc(next)
	if err != nil {
		return ConfigResult{Errors: fieldErrors(err)}, http.StatusBadRequest
	}
	if dry {
		return ConfigResult{OK: true}, http.StatusOK
	}
	if err := config.Save(s.opt.ConfigPath, c); err != nil {
		return ConfigResult{Errors: fieldErrors(err)}, http.StatusInternalServerError
	}
	changed := map[string]bool{}
	for k, v := range next {
		ob, _ := json.Marshal(old[k])
		nb, _ := json.Marshal(v)
		if !bytes.Equal(ob, nb) {
			changed[k] = true
		}
	}
	res := ConfigResult{OK: true}
	ic := s.initClient()
	for _, svc := range servicesFor(changed) {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := ic.Reload(rctx, svc)
		cancel()
		if err != nil {
			res.ReloadErrors = append(res.ReloadErrors, fmt.Sprintf("%s: %v", svc, err))
			continue
		}
		res.Reloaded = append(res.Reloaded, svc)
	}
	sections := make([]string, 0, len(changed))
	for k := range changed {
		sections = append(sections, k)
	}
	sort.Strings(sections)
	slog.Info("config saved", "sections", sections, "reloaded", res.Reloaded)
	return res, http.StatusOK
}

func (s *Server) currentDoc() (map[string]any, error) {
	c, err := s.loadConfig()
	if err != nil {
		return nil, err
	}
	return toDoc(c)
}

// setSettings applies path=value changes to the current config.
func (s *Server) setSettings(ctx context.Context, req ConfigSet) (ConfigResult, int) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	old, err := s.currentDoc()
	if err != nil {
		return ConfigResult{Errors: []FieldError{{Message: err.Error()}}}, http.StatusInternalServerError
	}
	next, _ := toDocCopy(old)
	var errs []FieldError
	keys := make([]string, 0, len(req.Settings))
	for k := range req.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, p := range keys {
		v := req.Settings[p]
		if sv, ok := v.(string); ok && sv == Redacted {
			continue // unchanged secret
		}
		if err := setPath(next, p, v); err != nil {
			errs = append(errs, FieldError{Field: p, Message: err.Error()})
		}
	}
	if len(errs) > 0 {
		return ConfigResult{Errors: errs}, http.StatusBadRequest
	}
	return s.applyConfig(ctx, old, next, req.DryRun)
}

func toDocCopy(doc map[string]any) (map[string]any, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return out, d.Decode(&out)
}

func (s *Server) handleConfigSet(w http.ResponseWriter, r *http.Request) {
	var req ConfigSet
	if err := readJSONLimit(w, r, &req, MaxBackupSize); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	if len(req.Settings) == 0 {
		apiError(w, http.StatusBadRequest, errors.New("settings: give at least one path and value"))
		return
	}
	res, status := s.setSettings(r.Context(), req)
	apiJSON(w, status, res)
}

// readWholeConfig reads a full config document (or a backup wrapping one)
// from the body, with redacted secrets filled from the current config.
func (s *Server) readWholeConfig(w http.ResponseWriter, r *http.Request) (old, next map[string]any, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBackupSize)
	body, err := readUpload(r)
	if err != nil {
		return nil, nil, err
	}
	doc, err := decodeConfigOrBackup(body)
	if err != nil {
		return nil, nil, err
	}
	old, err = s.currentDoc()
	if err != nil {
		return nil, nil, err
	}
	unredact(doc, old)
	return old, doc, nil
}

// readUpload returns the body, or the first file of a multipart form.
func readUpload(r *http.Request) ([]byte, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, err
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				return nil, errors.New("no file in the upload")
			}
			if p.FileName() != "" {
				return readAllTooLarge(p)
			}
		}
	}
	return readAllTooLarge(r.Body)
}

func readAllTooLarge(rd io.Reader) ([]byte, error) {
	b, err := io.ReadAll(rd)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errTooLarge{mbe.Limit}
	}
	return b, err
}

type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("upload too large: at most %d bytes", e.limit)
}

func decodeConfigOrBackup(body []byte) (map[string]any, error) {
	var head map[string]json.RawMessage
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("not a config or backup file: %v", err)
	}
	raw := body
	if f, ok := head["edgebox_backup"]; ok {
		if string(f) != `"1"` {
			return nil, fmt.Errorf("backup format %s is not one this firmware reads", f)
		}
		raw = head["config"]
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil || doc == nil {
		return nil, errors.New("the backup holds no config")
	}
	return doc, nil
}

func uploadStatus(err error) int {
	var tl errTooLarge
	if errors.As(err, &tl) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func (s *Server) handleConfigPut(w http.ResponseWriter, r *http.Request) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	old, next, err := s.readWholeConfig(w, r)
	if err != nil {
		apiError(w, uploadStatus(err), err)
		return
	}
	res, status := s.applyConfig(r.Context(), old, next, r.URL.Query().Get("dry_run") == "1")
	apiJSON(w, status, res)
}

func (s *Server) handleConfigValidate(w http.ResponseWriter, r *http.Request) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	old, next, err := s.readWholeConfig(w, r)
	if err != nil {
		apiError(w, uploadStatus(err), err)
		return
	}
	res, status := s.applyConfig(r.Context(), old, next, true)
	apiJSON(w, status, res)
}

func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	c, err := s.loadConfig()
	if err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	cb, _ := json.Marshal(c)
	b := Backup{Format: "1", Created: time.Now().UTC().Truncate(time.Second), Hostname: s.opt.Hostname, Version: s.opt.Version, Config: cb}
	name := fmt.Sprintf("edgebox-backup-%s-%s.json", safeName(s.opt.Hostname), b.Created.Format("20060102-150405"))
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	slog.Info("config backup downloaded", "from", clientAddr(r))
	apiJSON(w, http.StatusOK, b)
}

func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	old, next, err := s.readWholeConfig(w, r)
	if err != nil {
		apiError(w, uploadStatus(err), err)
		return
	}
	res, status := s.applyConfig(r.Context(), old, next, false)
	if res.OK {
		slog.Info("config restored from backup", "from", clientAddr(r))
	}
	apiJSON(w, status, res)
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "edgebox"
	}
	return b.String()
}

// readJSONLimit decodes a JSON body of at most limit bytes.
func readJSONLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}
