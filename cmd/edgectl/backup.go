package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"edgebox/internal/atomicfile"
	"edgebox/web"
)

func init() {
	register("backup", command{usage: "backup [-o FILE]", help: "download the whole config (with secrets) to a file", run: runBackup})
	register("restore", command{usage: "restore [-n] FILE", help: "check a backup, then make it the box's config", run: runRestore})
}

func runBackup(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	out := fs.String("o", "", "output file (default edgebox-backup-DATE.json; - for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var b []byte
	if err := webClient().Get(ctx, "/api/v1/backup", &rawJSON{&b}); err != nil {
		return err
	}
	if *out == "-" {
		_, err := os.Stdout.Write(b)
		return err
	}
	if *out == "" {
		*out = "edgebox-backup-" + time.Now().Format("20060102-150405") + ".json"
	}
	// The backup holds secrets: owner-only, like on the box.
	if err := atomicfile.WriteFile(*out, b, 0o600); err != nil {
		return err
	}
	if !g.JSON {
		fmt.Printf("backup written to %s (%d bytes; it contains passwords: keep it safe)\n", *out, len(b))
	}
	return nil
}

// rawJSON receives an answer unparsed.
type rawJSON struct{ b *[]byte }

func (r *rawJSON) Write(p []byte) (int, error) {
	*r.b = append(*r.b, p...)
	return len(p), nil
}

func runRestore(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	dry := fs.Bool("n", false, "only check the file against the box, change nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: edgectl restore [-n] FILE")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if len(data) > web.MaxBackupSize {
		return fmt.Errorf("%s is larger than a backup can be (%d bytes)", fs.Arg(0), web.MaxBackupSize)
	}
	path := "/api/v1/restore"
	if *dry {
		path = "/api/v1/config/validate"
	}
	var res web.ConfigResult
	err = doResult(ctx, http.MethodPost, path, data, &res)
	return reportResult(g, res, err, *dry)
}
