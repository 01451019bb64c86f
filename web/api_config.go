package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"edgebox/api/webapi"
	"edgebox/internal/config"
)

// The config API's JSON types live in api/webapi, for edgectl.
type (
	ConfigSet      = webapi.ConfigSet
	ConfigResult   = webapi.ConfigResult
	ConfigChange   = webapi.ConfigChange
	RestoreRequest = webapi.RestoreRequest
	ConfigValue    = webapi.ConfigValue
	LANMove        = webapi.LANMove
)

// MaxBackupSize bounds restore uploads.
const MaxBackupSize = webapi.MaxBackupSize

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
	redactView(doc, ScopeOf(r) == ScopeAdmin)
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
func (s *Server) applyConfig(ctx context.Context, old, next map[string]any, dry, confirmExpose bool) (ConfigResult, int) {
	res, code := s.applyConfigEN(ctx, old, next, dry, confirmExpose)
	for i := range res.Errors { // the config checks speak English
		res.Errors[i].Message = trMessage(langIn(ctx), res.Errors[i].Message)
	}
	return res, code
}

func (s *Server) applyConfigEN(ctx context.Context, old, next map[string]any, dry, confirmExpose bool) (ConfigResult, int) {
	c, err := fromDoc(next)
	if err != nil {
		return ConfigResult{Errors: fieldErrors(err)}, http.StatusBadRequest
	}
	if errs := newExposures(old, c); len(errs) > 0 {
		return ConfigResult{Errors: errs}, http.StatusBadRequest
	}
	if errs := changeChecks(langIn(ctx), old, c); len(errs) > 0 {
		return ConfigResult{Errors: errs}, http.StatusBadRequest
	}
	if was, _ := getPath(old, "web.expose_management"); c.Web.ExposeManagement && was != true && !confirmExpose {
		return ConfigResult{Errors: []FieldError{{Field: "web.expose_management", Message: "turning this on lets the uplinks (the internet) reach the web UI, API or logs: confirm it separately (confirm_expose) if you really mean it"}}}, http.StatusBadRequest
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
	res := ConfigResult{OK: true, LANMoved: lanMoves(langIn(ctx), old, c)}
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
	s.log.Info("config saved", "sections", sections, "reloaded", res.Reloaded)
	return res, http.StatusOK
}

func (s *Server) currentDoc() (map[string]any, error) {
	c, err := s.loadConfig()
	if err != nil {
		return nil, err
	}
	return toDoc(c)
}

// lockConfig serialises a config read-modify-write with web's other
// requests and with netctl, the other process that writes config.json
// (the PIN after a PUK), and returns the release.
func (s *Server) lockConfig() (release func()) {
	s.cfgMu.Lock()
	unlockFile := config.Lock(s.opt.ConfigPath)
	return func() {
		unlockFile()
		s.cfgMu.Unlock()
	}
}

// setSettings applies path=value changes to the current config.
func (s *Server) setSettings(ctx context.Context, req ConfigSet) (ConfigResult, int) {
	defer s.lockConfig()()
	old, err := s.currentDoc()
	if err != nil {
		return ConfigResult{Errors: []FieldError{{Message: err.Error()}}}, http.StatusInternalServerError
	}
	next, _ := toDocCopy(old)
	var errs []FieldError
	tidied := map[string]any{}
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
		tv := tidySetting(p, v) // tidy.go: "12 34", "sip:pbx:5060", "pbx "
		if !reflect.DeepEqual(tv, v) {
			tidied[p] = tv
		}
		if err := setPath(next, p, tv); err != nil {
			errs = append(errs, FieldError{Field: p, Message: err.Error()})
		}
	}
	if len(errs) > 0 {
		return ConfigResult{Errors: errs}, http.StatusBadRequest
	}
	res, code := s.applyConfig(ctx, old, next, req.DryRun, req.ConfirmExpose)
	if res.OK && len(tidied) > 0 {
		res.Tidied = tidied
	}
	return res, code
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
	res, status := s.setSettings(withLang(r.Context(), langOf(r)), req)
	apiJSON(w, status, res)
}

// upload is a config or backup file with the fields that come with it.
type upload struct {
	file          []byte
	passphrase    string
	confirm       string
	confirmExpose bool
}

// readWholeConfig reads a full config document (or a backup wrapping one)
// from the body, with redacted secrets filled from the current config.
func (s *Server) readWholeConfig(w http.ResponseWriter, r *http.Request) (old, next map[string]any, up upload, warn []string, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBackupSize+64<<10)
	up, err = readUpload(r)
	if err != nil {
		return nil, nil, up, nil, err
	}
	doc, warn, err := decodeConfigOrBackup(up.file, up.passphrase)
	if err != nil {
		return nil, nil, up, nil, err
	}
	old, err = s.currentDoc()
	if err != nil {
		return nil, nil, up, nil, err
	}
	if unmatched := unredact(doc, old); len(unmatched) > 0 {
		return nil, nil, up, nil, fmt.Errorf("%s: %s stands for a hidden secret, but this entry is new or renamed, so there is none to keep: enter the secret itself", strings.Join(unmatched, ", "), Redacted)
	}
	return old, doc, up, warn, nil
}

// readUpload reads the file and its fields: a multipart form (the page),
// a RestoreRequest, or the bare file with X-Backup-Passphrase and
// ?confirm= (edgectl of older versions, curl).
func readUpload(r *http.Request) (upload, error) {
	q := r.URL.Query()
	up := upload{passphrase: r.Header.Get("X-Backup-Passphrase"), confirm: q.Get("confirm"), confirmExpose: q.Get("confirm_expose") == "1"}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			return up, err
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return up, err
			}
			b, err := readAllTooLarge(io.LimitReader(p, MaxBackupSize+1))
			if err != nil {
				return up, err
			}
			switch {
			case p.FileName() != "":
				if len(b) > MaxBackupSize {
					return up, errTooLarge{MaxBackupSize}
				}
				up.file = b
			case p.FormName() == "passphrase":
				up.passphrase = string(b)
			case p.FormName() == "confirm":
				up.confirm = string(b)
			case p.FormName() == "confirm_expose":
				up.confirmExpose = string(b) == "1" || string(b) == "true"
			}
		}
		if up.file == nil {
			return up, errors.New("no file in the upload")
		}
		return up, nil
	}
	b, err := readAllTooLarge(r.Body)
	if err != nil {
		return up, err
	}
	var rr RestoreRequest
	if json.Unmarshal(b, &rr) == nil && len(rr.Backup) > 0 {
		up.file, up.passphrase, up.confirm, up.confirmExpose = rr.Backup, rr.Passphrase, rr.Confirm, rr.ConfirmExpose
	} else {
		up.file = b
	}
	if len(up.file) > MaxBackupSize {
		return up, errTooLarge{MaxBackupSize}
	}
	return up, nil
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

// sizeWords is a limit as the help texts say it (4 MiB, 256 MiB).
func sizeWords(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return humanBytes(float64(n))
}

func (e errTooLarge) Error() string {
	return "the file is too large: at most " + sizeWords(e.limit) + " can be uploaded here"
}

// decodeConfigOrBackup reads a backup (format 2 needs its passphrase;
// format 1, plain JSON from older firmware, is read with a warning) or a
// bare config document.
func decodeConfigOrBackup(body []byte, pass string) (map[string]any, []string, error) {
	var head map[string]json.RawMessage
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, nil, fmt.Errorf("not a config or backup file: %v", err)
	}
	raw := body
	var warn []string
	if f, ok := head["edgebox_backup"]; ok {
		switch string(f) {
		case `"2"`:
			var b Backup
			if err := json.Unmarshal(body, &b); err != nil {
				return nil, nil, fmt.Errorf("backup: damaged: %v", err)
			}
			full, err := OpenBackup(&b, pass)
			if err != nil {
				return nil, nil, err
			}
			raw = full
		case `"1"`:
			raw = head["config"]
			warn = append(warn, "this backup was made by older firmware: it has no integrity check and its passwords were stored in clear text; make a new backup after the restore")
		default:
			return nil, nil, fmt.Errorf("backup format %s is not one this firmware reads", f)
		}
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil || doc == nil {
		return nil, nil, errors.New("the backup holds no config")
	}
	return doc, warn, nil
}

func uploadStatus(err error) int {
	var tl errTooLarge
	if errors.As(err, &tl) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func (s *Server) handleConfigPut(w http.ResponseWriter, r *http.Request) {
	defer s.lockConfig()()
	old, next, up, _, err := s.readWholeConfig(w, r)
	if err != nil {
		apiError(w, uploadStatus(err), err)
		return
	}
	res, status := s.applyConfig(r.Context(), old, next, r.URL.Query().Get("dry_run") == "1", up.confirmExpose)
	apiJSON(w, status, res)
}

func (s *Server) handleConfigValidate(w http.ResponseWriter, r *http.Request) {
	defer s.lockConfig()()
	old, next, up, warn, err := s.readWholeConfig(w, r)
	if err != nil {
		apiError(w, uploadStatus(err), err)
		return
	}
	res, status := s.applyConfig(r.Context(), old, next, true, up.confirmExpose)
	res.Warnings = warn
	if res.OK {
		res.Changes = diffDocs(old, next)
	}
	apiJSON(w, status, res)
}

func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	var req BackupRequest
	if err := readJSONLimit(w, r, &req, 4<<10); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	c, err := s.loadConfig()
	if err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	full, _ := json.Marshal(c)
	doc, err := toDoc(c)
	if err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	b, err := sealBackup(full, redactView(doc, false).(map[string]any), req.Passphrase, s.opt.Hostname, s.opt.Version, s.opt.Now())
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	name := fmt.Sprintf("edgebox-backup-%s-%s.json", safeName(s.opt.Hostname), b.Created.Format("20060102-150405"))
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	s.log.Info("config backup downloaded", "from", clientAddr(r))
	apiJSON(w, http.StatusOK, b)
}

// handleRestore checks a backup and answers what it would change; only
// a second request carrying the confirmation of that answer applies it.
func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request) {
	defer s.lockConfig()()
	old, next, up, warn, err := s.readWholeConfig(w, r)
	if err != nil {
		apiError(w, uploadStatus(err), err)
		return
	}
	digest := docDigest(next)
	if up.confirm != digest {
		res, status := s.applyConfig(r.Context(), old, next, true, up.confirmExpose)
		res.Warnings = warn
		if res.OK {
			res.OK, res.NeedsConfirm, res.Confirm, res.Changes = false, true, digest, diffDocs(old, next)
			if up.confirm != "" {
				res.Warnings = append(res.Warnings, "the confirmation does not match this file or the box's config changed meanwhile: check the changes again")
			}
		}
		apiJSON(w, status, res)
		return
	}
	res, status := s.applyConfig(r.Context(), old, next, false, up.confirmExpose)
	res.Warnings = warn
	if res.OK {
		res.Changes = diffDocs(old, next)
		s.log.Info("config restored from backup", "from", clientAddr(r), "changes", len(res.Changes))
	}
	apiJSON(w, status, res)
}

// newExposures are the settings of next that expose management on an
// uplink (config.Exposures) and that the current config old does not
// have already: a change may not add one, and an old one (from firmware
// without these rules) does not block unrelated changes.
func newExposures(old map[string]any, next *config.Config) []FieldError {
	err := next.Exposures()
	if err == nil {
		return nil
	}
	had := map[string]bool{}
	if oc, oerr := fromDoc(old); oerr == nil {
		if e := oc.Exposures(); e != nil {
			for _, l := range strings.Split(e.Error(), "\n") {
				had[l] = true
			}
		}
	}
	var out []FieldError
	for _, l := range strings.Split(err.Error(), "\n") {
		if !had[l] {
			out = append(out, fieldErrors(errors.New(l))...)
		}
	}
	return out
}

// docDigest identifies a config document (and, with the current one, a
// restore): the confirmation of a restore is bound to it.
func docDigest(doc map[string]any) string {
	b, _ := json.Marshal(doc)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// diffDocs lists the settings that differ between old and next, by path,
// with secrets redacted.
func diffDocs(old, next map[string]any) []ConfigChange {
	ro, _ := toDocCopy(old)
	rn, _ := toDocCopy(next)
	secretChanged := map[string]bool{}
	flatOld, flatNew := map[string]any{}, map[string]any{}
	flatten("", ro, flatOld)
	flatten("", rn, flatNew)
	for p, v := range flatNew {
		if isSecretPath(p) && fmt.Sprint(v) != fmt.Sprint(flatOld[p]) {
			secretChanged[p] = true
		}
	}
	redact(ro)
	redact(rn)
	flatOld, flatNew = map[string]any{}, map[string]any{}
	flatten("", ro, flatOld)
	flatten("", rn, flatNew)
	var out []ConfigChange
	for p, nv := range flatNew {
		ov, had := flatOld[p]
		if !had || fmt.Sprint(ov) != fmt.Sprint(nv) || secretChanged[p] {
			out = append(out, ConfigChange{Path: p, Old: ov, New: nv})
		}
	}
	for p, ov := range flatOld {
		if _, ok := flatNew[p]; !ok {
			out = append(out, ConfigChange{Path: p, Old: ov})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func isSecretPath(p string) bool {
	if i := strings.LastIndexAny(p, ".]"); i >= 0 {
		p = p[i+1:]
	}
	return secretKey.MatchString(p)
}

// flatten turns a document into path -> leaf ("a.b[2].c"); lists of
// plain values stay one leaf.
func flatten(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		plain := true
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				plain = false
			}
		}
		if plain {
			out[prefix] = x
			return
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		out[prefix] = v
	}
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
