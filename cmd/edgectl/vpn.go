package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgebox/api/vpnapi"
)

func init() {
	register("vpn", command{
		usage: "vpn [status|import FILE|passphrase|login USER|reconnect]",
		help:  "show the VPN tunnel, import a profile, enter its secrets",
		run:   runVPN,
	})
}

func runVPN(ctx context.Context, g *globals, args []string) error {
	c := vpnapi.NewClient()
	sub := "status"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return printVPN(g, st)
	case "import":
		if len(args) != 1 {
			return errors.New("usage: edgectl vpn import FILE (.ovpn, or .tar/.tgz/.zip with the files it names)")
		}
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := c.Import(ctx, f, filepath.Base(args[0]), vpnapi.Credentials{})
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(info)
		}
		fmt.Printf("imported %s (server %s)\n", info.Name, strings.Join(info.Remotes, ", "))
		// What the import changed in the profile and what openvpn warned
		// about: the installer's laptop ran it unchanged.
		for _, n := range info.Notes {
			fmt.Println("note: " + n)
		}
		if info.KeyEncrypted {
			fmt.Println("the key is encrypted: enter its passphrase with: edgectl vpn passphrase")
		}
		if info.NeedsUserPass {
			fmt.Println("the server wants a login: enter it with: edgectl vpn login USER")
		}
		return nil
	case "passphrase":
		pass, err := readSecret("key passphrase: ")
		if err != nil {
			return err
		}
		st, err := c.SetCredentials(ctx, vpnapi.Credentials{Passphrase: &pass})
		if err != nil {
			return err
		}
		return printVPN(g, st)
	case "login":
		if len(args) != 1 {
			return errors.New("usage: edgectl vpn login USER (the password is read from stdin)")
		}
		pass, err := readSecret("password for " + args[0] + ": ")
		if err != nil {
			return err
		}
		st, err := c.SetCredentials(ctx, vpnapi.Credentials{Username: &args[0], Password: &pass})
		if err != nil {
			return err
		}
		return printVPN(g, st)
	case "reconnect":
		st, err := c.Reconnect(ctx)
		if err != nil {
			return err
		}
		return printVPN(g, st)
	}
	return fmt.Errorf("unknown vpn command %q", sub)
}

// readSecret reads one line from stdin, so secrets never show up in the
// process list or shell history.
func readSecret(prompt string) (string, error) {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(os.Stderr, prompt)
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read %s: %w", strings.TrimSuffix(prompt, ": "), err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func printVPN(g *globals, st vpnapi.Status) error {
	if g.JSON {
		return printJSON(st)
	}
	table(vpnRows(st))
	return nil
}

// vpnRows is the tunnel as a two-column table: state with openvpn's
// reason (detail), addresses, traffic, the profile and what its import
// changed or warned about (one note a row), secrets held, the last error.
func vpnRows(st vpnapi.Status) [][]string {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	rows := [][]string{
		{"state", st.State + detail(st.Detail)},
		{"interface", st.Interface},
		{"tunnel address", or(strings.TrimSpace(st.TunnelAddress+" "+st.TunnelAddress6), "-")},
		{"server", or(st.Remote, "-")},
	}
	since := "-"
	if st.ConnectedSince != nil {
		since = fmt.Sprintf("%s (%s ago)", st.ConnectedSince.Local().Format(time.DateTime), time.Since(*st.ConnectedSince).Round(time.Second))
	}
	rows = append(rows,
		[]string{"connected since", since},
		[]string{"traffic", fmt.Sprintf("%s in, %s out", bytesHuman(st.BytesIn), bytesHuman(st.BytesOut))},
		[]string{"uplink", or(st.Uplink, "none")},
	)
	if p := st.Profile; p != nil {
		rows = append(rows, []string{"profile", fmt.Sprintf("%s, imported %s", p.Name, p.ImportedAt.Local().Format(time.DateTime))})
		if p.CertNotAfter != nil {
			rows = append(rows, []string{"certificate valid until", p.CertNotAfter.Local().Format(time.DateTime)})
		}
		for i, n := range p.Notes {
			label := ""
			if i == 0 {
				label = "profile notes"
			}
			rows = append(rows, []string{label, n})
		}
	} else {
		rows = append(rows, []string{"profile", "none (edgectl vpn import FILE)"})
	}
	var secrets []string
	if st.HasPassphrase {
		secrets = append(secrets, "key passphrase")
	}
	if st.HasLogin {
		secrets = append(secrets, "login")
	}
	rows = append(rows, []string{"stored secrets", or(strings.Join(secrets, ", "), "none")})
	if st.LastError != "" {
		at := ""
		if st.LastErrorAt != nil {
			at = " (" + st.LastErrorAt.Local().Format(time.TimeOnly) + ")"
		}
		rows = append(rows, []string{"last error", st.LastError + at})
	}
	return rows
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

func bytesHuman(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
