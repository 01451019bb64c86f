package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"edgebox/api/webapi"
	"edgebox/internal/atomicfile"
)

func init() {
	register("backup", command{usage: "backup [-o FILE]", help: "download the whole config to a file, secrets encrypted with a passphrase", run: runBackup})
	register("restore", command{usage: "restore [-n] [-y] FILE", help: "check a backup, list its changes, then make it the box's config", run: runRestore})
}

// passphrase reads the backup passphrase: EDGECTL_BACKUP_PASSPHRASE, or
// one line from standard input (prompted on standard error).
func passphrase(prompt string) (string, error) {
	if p := os.Getenv("EDGECTL_BACKUP_PASSPHRASE"); p != "" {
		return p, nil
	}
	fmt.Fprint(os.Stderr, prompt)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no passphrase: type it, or set EDGECTL_BACKUP_PASSPHRASE")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func runBackup(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	out := fs.String("o", "", "output file (default edgebox-backup-DATE.json; - for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pass, err := passphrase(fmt.Sprintf("passphrase for the backup's secrets (at least %d characters): ", webapi.MinPassphraseLen))
	if err != nil {
		return err
	}
	var b []byte
	if err := webClient().Post(ctx, "/api/v1/backup", webapi.BackupRequest{Passphrase: pass}, &rawJSON{&b}); err != nil {
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
		fmt.Printf("backup written to %s (%d bytes; its passwords are encrypted: keep the passphrase, it cannot be recovered)\n", *out, len(b))
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
	dry := fs.Bool("n", false, "only check the file against the box and list the changes")
	yes := fs.Bool("y", false, "apply without asking")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: edgectl restore [-n] [-y] FILE")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if len(data) > webapi.MaxBackupSize {
		return fmt.Errorf("%s is larger than a backup can be (%d bytes)", fs.Arg(0), webapi.MaxBackupSize)
	}
	rr := webapi.RestoreRequest{Backup: data}
	if strings.Contains(string(data), `"secrets"`) {
		if rr.Passphrase, err = passphrase("the backup's passphrase: "); err != nil {
			return err
		}
	}
	var res webapi.ConfigResult
	if err := doResult(ctx, http.MethodPost, "/api/v1/restore", rr, &res); err != nil {
		return err
	}
	if !res.NeedsConfirm {
		return reportResult(g, res, nil, false)
	}
	if g.JSON && (*dry || !*yes) {
		return printJSON(res)
	}
	for _, w := range res.Warnings {
		fmt.Println("note:", w)
	}
	fmt.Printf("%d changes:\n", len(res.Changes))
	for _, c := range res.Changes {
		fmt.Printf("  %s: %v -> %v\n", c.Path, c.Old, c.New)
	}
	if *dry {
		return nil
	}
	if !*yes {
		fmt.Fprint(os.Stderr, "apply these changes? [y/N] ")
		ans, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(ans)); a != "y" && a != "yes" {
			return errors.New("not applied")
		}
	}
	rr.Confirm = res.Confirm
	res = webapi.ConfigResult{}
	err = doResult(ctx, http.MethodPost, "/api/v1/restore", rr, &res)
	return reportResult(g, res, err, false)
}
