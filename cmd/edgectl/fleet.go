package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/api/vpnapi"
	"edgebox/api/webapi"
	"edgebox/internal/sysapi"
)

// edgectl fleet: one command over many boxes, each reached as with --url
// (docs/fleet.md, section 8).

func init() {
	register("fleet", command{
		usage: "fleet status | fleet config set PATH VALUE... | fleet update [--waves 1,10%,rest] BUNDLE",
		help:  "many boxes from a fleet file: one status row each; the same setting on all; an update wave by wave",
		run:   runFleet,
	})
}

// fleetBox is one box of the fleet file.
type fleetBox struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	Fingerprint string `json:"fingerprint"`
	Token       string `json:"token"`
}

// defaultFleetFile is where the fleet file is unless --file or
// EDGECTL_FLEET says otherwise.
func defaultFleetFile() string {
	if f := os.Getenv("EDGECTL_FLEET"); f != "" {
		return f
	}
	dir, _ := os.UserConfigDir()
	return filepath.Join(dir, "edgectl", "fleet.json")
}

// loadFleet reads and checks a fleet file: {"boxes": [{name, url,
// fingerprint, token}, ...]}.
func loadFleet(path string) ([]fleetBox, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fleet file: %w (write one as docs/fleet.md section 8 shows, or pass --file)", err)
	}
	var f struct {
		Boxes []fleetBox `json:"boxes"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("fleet file %s: %v", path, err)
	}
	if len(f.Boxes) == 0 {
		return nil, fmt.Errorf("fleet file %s lists no boxes", path)
	}
	seen := map[string]bool{}
	for i, b := range f.Boxes {
		switch {
		case b.Name == "" || seen[b.Name]:
			return nil, fmt.Errorf("fleet file %s: box %d: name missing or used twice", path, i+1)
		case !strings.HasPrefix(b.URL, "https://"):
			return nil, fmt.Errorf("fleet file %s: box %s: url must be https://HOST[:PORT]", path, b.Name)
		case len(normFingerprint(b.Fingerprint)) != 64:
			return nil, fmt.Errorf("fleet file %s: box %s: fingerprint must be the certificate's SHA-256 (64 hex digits, colons allowed)", path, b.Name)
		case b.Token == "":
			return nil, fmt.Errorf("fleet file %s: box %s: token missing (a read-scope API token is enough for status)", path, b.Name)
		}
		seen[b.Name] = true
	}
	return f.Boxes, nil
}

// boxStatus is the part of a box's GET /api/v1/status the fleet shows.
type boxStatus struct {
	System      *sysapi.System     `json:"system"`
	Network     *netapi.Status     `json:"network"`
	VPN         *vpnapi.Status     `json:"vpn"`
	Gateway     *gatewayapi.Status `json:"gateway"`
	Unavailable map[string]string  `json:"unavailable"`
}

// fleetRow is one box's line of fleet status (and its --json form).
type fleetRow struct {
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Slot    string   `json:"slot,omitempty"`
	Uplink  string   `json:"uplink,omitempty"`
	VPN     string   `json:"vpn,omitempty"`
	Trunk   string   `json:"trunk,omitempty"`
	Calls   *int     `json:"calls,omitempty"`
	Alerts  []string `json:"alerts,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// boxCall sends one API request to a box over HTTPS, pinned to its
// certificate fingerprint, and decodes the JSON answer into out (also an
// answer 400 carries: config field errors). It returns the HTTP status.
func boxCall(ctx context.Context, b fleetBox, method, path string, in, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(b.URL, "/")+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Transport: remoteTransport(b.Fingerprint)}).Do(req)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return 0, errors.New("no answer within 15 s (box off, VPN down?)")
		case errors.Is(err, syscall.ECONNREFUSED):
			return 0, errors.New("connection refused (is the box's web service running, is the port right?)")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the row already
		}
		return 0, explainTLS(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
		return res.StatusCode, fmt.Errorf("the box refused the token (%d): make a new one on its Admin page (changing settings needs scope admin)", res.StatusCode)
	}
	data, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err := json.Unmarshal(data, out); err != nil {
		return res.StatusCode, fmt.Errorf("status %d: %s", res.StatusCode, strings.TrimSpace(string(data[:min(len(data), 512)])))
	}
	return res.StatusCode, nil
}

// fetchBox asks one box for its status.
func fetchBox(ctx context.Context, b fleetBox) (boxStatus, error) {
	var st boxStatus
	code, err := boxCall(ctx, b, http.MethodGet, "/api/v1/status", nil, &st)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("status answer %d", code)
	}
	return st, err
}

// eachBox runs f for every box, 8 at a time, results in the file's order.
func eachBox[T any](boxes []fleetBox, f func(fleetBox) T) []T {
	out := make([]T, len(boxes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, b := range boxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = f(b)
		}()
	}
	wg.Wait()
	return out
}

// row turns a status into the table's words and its alerts.
func row(name string, st boxStatus) fleetRow {
	r := fleetRow{Name: name}
	if s := st.System; s != nil {
		r.Version, r.Slot = s.Version, s.Slot
	}
	if n := st.Network; n != nil {
		r.Uplink = n.Active
		if r.Uplink == "" {
			r.Uplink = "none"
			r.Alerts = append(r.Alerts, "no uplink")
		}
	}
	if v := st.VPN; v != nil {
		r.VPN = v.State
		if v.State != "connected" && v.State != "off" && v.State != "disabled" {
			r.Alerts = append(r.Alerts, "vpn "+v.State)
		}
	}
	if g := st.Gateway; g != nil {
		r.Trunk, _, _ = strings.Cut(g.Registration, ":")
		n := g.ActiveCalls
		r.Calls = &n
		if r.Trunk != "registered" && r.Trunk != "off" {
			r.Alerts = append(r.Alerts, "trunk "+r.Trunk)
		}
		if g.Draining {
			r.Alerts = append(r.Alerts, "draining")
		}
	}
	for _, svc := range slices.Sorted(maps.Keys(st.Unavailable)) {
		r.Alerts = append(r.Alerts, svc+" not answering")
	}
	return r
}

func runFleet(ctx context.Context, g *globals, args []string) error {
	usage := errors.New("usage: edgectl fleet status [--file FLEET.json] | fleet config set [--file FLEET.json] PATH VALUE [PATH VALUE...] | fleet update [--file FLEET.json] [--waves 1,10%,rest] BUNDLE")
	if len(args) == 0 {
		return usage
	}
	if args[0] == "update" {
		return fleetUpdateCmd(ctx, g, args[1:])
	}
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	file := fs.String("file", defaultFleetFile(), "fleet file")
	switch {
	case args[0] == "status":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
	case len(args) >= 2 && args[0] == "config" && args[1] == "set":
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		return fleetConfigSet(ctx, g, *file, fs.Args())
	default:
		return usage
	}
	boxes, err := loadFleet(*file)
	if err != nil {
		return err
	}
	rows := eachBox(boxes, func(b fleetBox) fleetRow {
		st, err := fetchBox(ctx, b)
		if err != nil {
			return fleetRow{Name: b.Name, Error: err.Error()}
		}
		return row(b.Name, st)
	})
	if g.JSON {
		return printJSON(rows)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BOX\tVERSION\tSLOT\tUPLINK\tVPN\tTRUNK\tCALLS\tALERTS")
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\tunreachable: %s\n", r.Name, r.Error)
			continue
		}
		calls := "-"
		if r.Calls != nil {
			calls = strconv.Itoa(*r.Calls)
		}
		alerts := strings.Join(r.Alerts, ", ")
		if alerts == "" {
			alerts = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.Version), dash(r.Slot), dash(r.Uplink), dash(r.VPN), dash(r.Trunk), calls, alerts)
	}
	return tw.Flush()
}

// fleetSetResult is one box's answer to fleet config set.
type fleetSetResult struct {
	Name   string               `json:"name"`
	Result *webapi.ConfigResult `json:"result,omitempty"`
	Error  string               `json:"error,omitempty"`
}

// fleetConfigSet sets the same settings on every box and reports each
// box's result: a box that refuses keeps its stored config.
func fleetConfigSet(ctx context.Context, g *globals, file string, kv []string) error {
	if len(kv) == 0 || len(kv)%2 != 0 {
		return errors.New("usage: edgectl fleet config set [--file FLEET.json] PATH VALUE [PATH VALUE...]")
	}
	boxes, err := loadFleet(file)
	if err != nil {
		return err
	}
	req := webapi.ConfigSet{Settings: map[string]any{}}
	for i := 0; i < len(kv); i += 2 {
		req.Settings[kv[i]] = parseValue(kv[i+1])
	}
	results := eachBox(boxes, func(b fleetBox) fleetSetResult {
		var res webapi.ConfigResult
		if _, err := boxCall(ctx, b, http.MethodPost, "/api/v1/config/set", req, &res); err != nil {
			return fleetSetResult{Name: b.Name, Error: err.Error()}
		}
		return fleetSetResult{Name: b.Name, Result: &res}
	})
	failed := 0
	for _, r := range results {
		if r.Result == nil || !r.Result.OK {
			failed++
		}
	}
	if g.JSON {
		printJSON(results)
	} else {
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BOX\tRESULT")
		for _, r := range results {
			switch {
			case r.Error != "":
				fmt.Fprintf(tw, "%s\tnot changed: %s\n", r.Name, r.Error)
			case !r.Result.OK:
				var why []string
				for _, e := range r.Result.Errors {
					why = append(why, e.Field+": "+e.Message)
				}
				fmt.Fprintf(tw, "%s\trefused, not changed: %s\n", r.Name, strings.Join(why, "; "))
			case len(r.Result.ReloadErrors) > 0:
				fmt.Fprintf(tw, "%s\tstored; not yet applied by %s (applies at their restart)\n", r.Name, strings.Join(r.Result.ReloadErrors, ", "))
			default:
				fmt.Fprintf(tw, "%s\tok\n", r.Name)
			}
		}
		tw.Flush()
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d boxes did not take the change", failed, len(results))
	}
	return nil
}
