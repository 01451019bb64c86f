package web

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// handleSupportBundle answers one .tar.gz for the vendor: the status of
// every service, versions, each service's recent log and the config with
// its secrets replaced (as GET /api/v1/config shows it). Admin scope.
func (s *Server) handleSupportBundle(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	now := s.opt.Now()
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: "edgebox-support/" + name, Mode: 0o644, Size: int64(len(data)), ModTime: now})
		tw.Write(data)
	}
	asJSON := func(v any) []byte {
		b, _ := json.MarshalIndent(v, "", "  ")
		return append(b, '\n')
	}
	var notes []string
	status := s.status(r.Context())
	add("status.json", asJSON(status))
	versions := map[string]any{"web": s.opt.Version, "hostname": s.opt.Hostname, "made": now.UTC().Format(time.RFC3339)}
	if status.System != nil {
		versions["firmware"], versions["board"] = status.System.Version, status.System.Board
	}
	add("versions.json", asJSON(versions))
	if c, err := s.loadConfig(); err != nil {
		notes = append(notes, "config: "+plainWords(err.Error()))
	} else if doc, err := toDoc(c); err == nil {
		add("config.json", asJSON(redactView(doc, false)))
	}
	var names []string
	if status.System != nil {
		for _, sv := range status.System.Services {
			names = append(names, sv.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		lines, err := s.initClient().Logs(r.Context(), n, 0, 5000)
		if err != nil {
			notes = append(notes, "logs of "+n+": "+plainWords(err.Error()))
			continue
		}
		var b strings.Builder
		for _, l := range lines {
			fmt.Fprintf(&b, "%s %s\n", l.Time.UTC().Format(time.RFC3339Nano), l.Text)
		}
		add("logs/"+n+".log", []byte(b.String()))
	}
	for svc, why := range status.Unavailable {
		notes = append(notes, svc+" status: "+why)
	}
	sort.Strings(notes)
	add("README.txt", []byte("edgebox support bundle: status.json (every service), versions.json, config.json (secrets replaced), logs/ (recent lines of each service).\n"+
		strings.Join(append([]string{"Missing parts:"}, notes...), "\n")+"\n"))
	if err := tw.Close(); err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	gz.Close()
	name := fmt.Sprintf("edgebox-support-%s-%s.tar.gz", orDash(s.opt.Hostname), now.UTC().Format("20060102-150405"))
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
