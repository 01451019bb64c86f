package main

import (
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
	"edgebox/internal/sysapi"
)

// edgectl fleet: one command over many boxes, each reached as with --url
// (docs/fleet.md, section 8).

func init() {
	register("fleet", command{
		usage: "fleet status [--file FLEET.json]",
		help:  "one row per box of a fleet file: version, slot, uplink, VPN, trunk, calls, alerts",
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

// fetchBox asks one box for its status over HTTPS, pinned to its
// certificate fingerprint.
func fetchBox(ctx context.Context, b fleetBox) (boxStatus, error) {
	var st boxStatus
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(b.URL, "/")+"/api/v1/status", nil)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+b.Token)
	res, err := (&http.Client{Transport: remoteTransport(b.Fingerprint)}).Do(req)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return st, errors.New("no answer within 15 s (box off, VPN down?)")
		case errors.Is(err, syscall.ECONNREFUSED):
			return st, errors.New("connection refused (is the box's web service running, is the port right?)")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the row already
		}
		return st, explainTLS(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
		return st, fmt.Errorf("the box refused the token (%d): make a new one on its Admin page", res.StatusCode)
	}
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return st, fmt.Errorf("status %d: %s", res.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("unreadable status answer: %v", err)
	}
	return st, nil
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
	if len(args) == 0 || args[0] != "status" {
		return errors.New("usage: edgectl fleet status [--file FLEET.json]")
	}
	fs := flag.NewFlagSet("fleet status", flag.ContinueOnError)
	file := fs.String("file", defaultFleetFile(), "fleet file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	boxes, err := loadFleet(*file)
	if err != nil {
		return err
	}
	rows := make([]fleetRow, len(boxes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8) // at most 8 boxes asked at once
	for i, b := range boxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := fetchBox(ctx, b)
			if err != nil {
				rows[i] = fleetRow{Name: b.Name, Error: err.Error()}
				return
			}
			rows[i] = row(b.Name, st)
		}()
	}
	wg.Wait()
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
