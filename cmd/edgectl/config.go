package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"edgebox/api/webapi"
	"edgebox/internal/backup"
	"edgebox/internal/config"
)

func init() {
	register("config", command{
		usage: "config get [PATH] | set PATH VALUE... | validate FILE",
		help:  "read, change or check the box configuration",
		run:   runConfig,
	})
}

func runConfig(ctx context.Context, g *globals, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: edgectl config get [PATH] | set [-n] PATH VALUE [PATH VALUE...] | validate FILE")
	}
	switch args[0] {
	case "get":
		return configGet(ctx, g, args[1:])
	case "set":
		return configSet(ctx, g, args[1:])
	case "validate":
		return configValidate(ctx, g, args[1:])
	}
	return fmt.Errorf("unknown config subcommand %q: use get, set or validate", args[0])
}

func configGet(ctx context.Context, g *globals, args []string) error {
	if len(args) > 1 {
		return errors.New("usage: edgectl config get [PATH]")
	}
	if len(args) == 1 {
		var v webapi.ConfigValue
		if err := webClient().Get(ctx, "/api/v1/config?path="+urlEscape(args[0]), &v); err != nil {
			return err
		}
		if g.JSON {
			return printJSON(v)
		}
		if s, ok := v.Value.(string); ok {
			fmt.Println(s)
			return nil
		}
		return printJSON(v.Value)
	}
	var doc map[string]any
	if err := webClient().Get(ctx, "/api/v1/config", &doc); err != nil {
		return err
	}
	return printJSON(doc)
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "+", "%2B", " ", "%20", "?", "%3F")
	return r.Replace(s)
}

// parseValue reads a command-line value: JSON when it parses as JSON
// (numbers, true/false, lists, quoted strings), else the text itself.
func parseValue(s string) any {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err == nil && !d.More() {
		return v
	}
	return s
}

func configSet(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("config set", flag.ContinueOnError)
	dry := fs.Bool("n", false, "only validate, store nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || len(rest)%2 != 0 {
		return errors.New("usage: edgectl config set [-n] PATH VALUE [PATH VALUE...]  (e.g. network.modem.apn internet)")
	}
	req := webapi.ConfigSet{Settings: map[string]any{}, DryRun: *dry}
	for i := 0; i < len(rest); i += 2 {
		req.Settings[rest[i]] = parseValue(rest[i+1])
	}
	var res webapi.ConfigResult
	err := doResult(ctx, http.MethodPost, "/api/v1/config/set", req, &res)
	return reportResult(g, res, err, *dry)
}

// doResult calls the web API and decodes a ConfigResult even from an
// error answer, so field errors reach the user.
func doResult(ctx context.Context, method, path string, in any, res *webapi.ConfigResult) error {
	var body io.Reader
	ct := "application/json"
	switch v := in.(type) {
	case []byte:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	c := webClient()
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ct)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if json.Unmarshal(data, res) == nil && (res.OK || len(res.Errors) > 0 || res.NeedsConfirm) {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	return fmt.Errorf("%s %s: %s", method, path, resp.Status)
}

func reportResult(g *globals, res webapi.ConfigResult, err error, dry bool) error {
	if err != nil {
		return err
	}
	if g.JSON {
		printJSON(res)
	}
	if !res.OK {
		var lines []string
		for _, e := range res.Errors {
			if e.Field != "" {
				lines = append(lines, "  "+e.Field+": "+e.Message)
			} else {
				lines = append(lines, "  "+e.Message)
			}
		}
		return fmt.Errorf("not saved:\n%s", strings.Join(lines, "\n"))
	}
	if g.JSON {
		return nil
	}
	switch {
	case dry:
		fmt.Println("valid (nothing stored)")
	case len(res.Reloaded) > 0:
		fmt.Printf("saved; applied by %s\n", strings.Join(res.Reloaded, ", "))
	default:
		fmt.Println("saved")
	}
	printTidied(os.Stdout, res.Tidied)
	for _, e := range res.ReloadErrors {
		fmt.Printf("not applied yet (at next restart): %s\n", e)
	}
	return nil
}

// configValidate checks a config or backup file with this firmware's rules,
// locally; nothing is sent to the box.
func configValidate(ctx context.Context, g *globals, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: edgectl config validate FILE")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var b webapi.Backup
	if json.Unmarshal(data, &b) == nil && b.Format != "" {
		data = b.Config
		if b.Format == webapi.BackupFormat {
			// The readable part has its secrets redacted: check the sealed one.
			pass, err := passphrase("the backup's passphrase: ")
			if err != nil {
				return err
			}
			if data, err = backup.Open(&b, pass); err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
		}
	}
	if _, err := config.Parse(data); err != nil {
		return fmt.Errorf("%s is not valid:\n%v", args[0], err)
	}
	if g.JSON {
		return printJSON(webapi.ConfigResult{OK: true})
	}
	fmt.Printf("%s is valid\n", args[0])
	return nil
}

// printTidied says which values the box stored otherwise than typed
// (spaces trimmed, a SIP URI's host:port): a PIN is not printed.
func printTidied(w io.Writer, tidied map[string]any) {
	keys := make([]string, 0, len(tidied))
	for k := range tidied {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasSuffix(k, ".pin") || strings.HasSuffix(k, ".puk") {
			fmt.Fprintf(w, "%s: stored without spaces or dashes\n", k)
			continue
		}
		b, _ := json.Marshal(tidied[k])
		fmt.Fprintf(w, "%s: stored as %s\n", k, b)
	}
}
