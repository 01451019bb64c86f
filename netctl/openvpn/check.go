package openvpn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// check is the dry run of a candidate profile: openvpn itself parses it,
// loads its keys and certificates (with the passphrase, if any) and starts
// its first connection attempt — inside a fresh network namespace with no
// interfaces, so it cannot reach the server, disturb the running tunnel or
// send anything anywhere. Reaching a connection state means openvpn
// accepts the profile; an options error, a >FATAL or an early exit means it
// does not, and its message is returned.
//
// A passphrase given with the upload (explicitPass) must be right; a stored
// one that fails is left for the running tunnel to report, since the
// profile itself may be fine.
func (m *Manager) check(ctx context.Context, p *Profile, sec secrets, explicitPass bool) error {
	if err := os.MkdirAll(m.opt.RunDir, 0o700); err != nil {
		return fmt.Errorf("vpn run folder: %w", err)
	}
	dir, err := os.MkdirTemp(m.opt.RunDir, "check-")
	if err != nil {
		return fmt.Errorf("vpn profile check: %w", err)
	}
	defer os.RemoveAll(dir)
	cand := filepath.Join(dir, "candidate.ovpn")
	if err := os.WriteFile(cand, p.withHeader(), 0o600); err != nil {
		return fmt.Errorf("vpn profile check: %w", err)
	}
	sock := filepath.Join(dir, "m.sock")
	argv := append([]string{m.opt.Binary}, openvpnArgs(&m.opt, cand, sock, p.Info.DevType)...)
	proc, err := start(procSpec{argv: argv, sock: sock, isolate: true})
	if err != nil {
		return fmt.Errorf("openvpn rejected the profile: %s", rewriteLineRefs(trimErr(err.Error()), p))
	}
	defer proc.stop()
	accepted := func() error {
		// openvpn's own warnings tell the installer what to change later.
		for _, w := range proc.out.deprecated() {
			p.Info.Notes = append(p.Info.Notes, "openvpn warns: "+w)
		}
		return nil
	}
	for _, c := range []string{"log on", "state on", "hold release"} {
		if err := proc.mgmt.send(c); err != nil {
			return fmt.Errorf("vpn profile check: %w", err)
		}
	}
	var problems []string
	rejected := func(msg string) error {
		if !slices.Contains(problems, msg) {
			problems = append(problems, msg)
		}
		return fmt.Errorf("openvpn rejected the profile: %s", rewriteLineRefs(strings.Join(problems, "; "), p))
	}
	last := "" // openvpn's last log line, for a check that times out
	for {
		select {
		case <-ctx.Done():
			if last != "" {
				return fmt.Errorf("openvpn did not finish checking the profile in time (its last words: %s)", rewriteLineRefs(last, p))
			}
			return errors.New("openvpn did not finish checking the profile in time")
		case <-proc.exited:
			return rejected(trimErr(proc.exitReason()))
		case ev, ok := <-proc.mgmt.events:
			if !ok {
				<-proc.exited
				return rejected(trimErr(proc.exitReason()))
			}
			switch e := ev.(type) {
			case StateEvent:
				switch e.Name {
				case "WAIT", "RESOLVE", "TCP_CONNECT", "AUTH", "GET_CONFIG", "CONNECTING":
					return accepted()
				}
			case HoldEvent:
				proc.mgmt.send("hold release")
			case PasswordEvent:
				if e.Type == "Private Key" {
					// A <pkcs12> says nothing readable about its
					// encryption; openvpn asking for it does.
					p.Info.KeyEncrypted = true
				}
				switch {
				case e.Need && e.Type == "Private Key" && sec.Passphrase != "":
					proc.mgmt.send("password " + mgmtQuote("Private Key") + " " + mgmtQuote(sec.Passphrase))
				case e.Need && e.Type == "Auth" && sec.Username != "":
					proc.mgmt.send("username " + mgmtQuote("Auth") + " " + mgmtQuote(sec.Username))
					proc.mgmt.send("password " + mgmtQuote("Auth") + " " + mgmtQuote(sec.Password))
				case e.Need:
					// Nothing to answer with yet: the profile parsed and
					// the rest waits for the admin's secret.
					return accepted()
				case e.Type == "Private Key" && explicitPass:
					return errors.New(ErrBadPassphrase)
				case e.Type == "Private Key":
					return accepted()
				}
			case LogEvent:
				last = e.Msg
				if (e.Flags == "F" || e.Flags == "N") && !isAdvice(e.Msg) && !slices.Contains(problems, e.Msg) {
					problems = append(problems, e.Msg)
				}
			case FatalEvent:
				return rejected(e.Msg)
			}
		}
	}
}

// trimErr drops what only repeats itself or speaks of the manager's own
// plumbing rather than the profile.
func trimErr(s string) string {
	s = strings.ReplaceAll(s, "; Use --help for more information.", "")
	s = strings.TrimPrefix(s, errExitedEarly.Error()+": ")
	return strings.TrimSpace(s)
}
