package openvpn

import (
	"fmt"
	"path"
	"strings"
)

// errTooLarge is a file over MaxProfileSize, said in MiB with what a
// profile should be: an installer who picked a log or a backup by mistake
// learns which file to pick instead ("larger than 1048576 bytes" said
// neither).
func errTooLarge(name string) error {
	return fmt.Errorf("%s: the profile is larger than %d MiB, and an OpenVPN profile with everything inline is about 10 KiB: choose the .ovpn file (or the .zip/.tar with its files) your company gave for this box",
		path.Base(name), MaxProfileSize>>20)
}

// MaxRemotes bounds the servers (remote lines, in <connection> blocks
// too) of one profile. openvpn 2.0-2.5 refused more than 64 connection
// entries, so no profile an older server exported has more; and the box
// gives a silent server 20 s (server-poll-timeout) before it tries the
// next, so 64 already make a round of over 20 minutes.
const MaxRemotes = 64

// errTooManyRemotes says the bound and what to ask for instead.
func errTooManyRemotes(name string, n int) error {
	return fmt.Errorf("%s: the profile lists %d VPN servers (remote lines), and the box takes at most %d: it tries each silent server for 20 s, so a round through them all would take over %d minutes. Ask for a profile with the servers for this site (a provider's list of all its servers is not meant for one box)",
		path.Base(name), n, MaxRemotes, n*20/60)
}

// Lines of field profiles that openvpn on the box cannot take as written
// but whose meaning the box can keep: each is converted with a note, so an
// installer with only a phone never has to edit the file.

// convertField handles such a line; it reports whether it did (the line
// is then emitted or dropped, with a note, or refused with the reason).
func (p *parser) convertField(n int, text string, toks []string, inConnection bool) bool {
	if inConnection {
		return false
	}
	if why, ok := managedByBox(toks); ok {
		p.note("%s line %d: %q dropped: %s", path.Base(p.name), n, text, why)
		return true
	}
	switch toks[0] {
	case "tls-remote":
		return p.convertTLSRemote(n, text, toks)
	case "askpass":
		return p.convertAskpass(n, text, toks)
	case "auth-user-pass":
		return p.convertLoginFile(n, text, toks)
	}
	return false
}

// convertTLSRemote: "tls-remote NAME" (removed in OpenVPN 2.4) accepted a
// server whose certificate's common name, or whole subject in the old
// "/C=DE/O=Firm/CN=vpn" form, was NAME. verify-x509-name NAME name keeps
// the check; for a subject, its common name is checked.
func (p *parser) convertTLSRemote(n int, text string, toks []string) bool {
	if len(toks) != 2 || toks[1] == "" {
		return false // refused with refusedWhy's words
	}
	cn, how := toks[1], ""
	if strings.HasPrefix(cn, "/") || strings.Contains(cn, "=") {
		cn = ""
		for _, part := range strings.Split(toks[1], "/") {
			if v, ok := strings.CutPrefix(part, "CN="); ok {
				cn = v
			}
		}
		if cn == "" {
			return false
		}
		how = " (the common name of the subject it named)"
	}
	conv := "verify-x509-name " + quoteArg(cn) + " name"
	p.note("%s line %d: %q converted to %q%s: tls-remote was removed in OpenVPN 2.4, and this keeps its check of the server's name",
		path.Base(p.name), n, text, conv, how)
	p.emit(n, conv)
	return true
}

// convertAskpass: on a PC, "askpass" made openvpn ask for the key's
// passphrase on its terminal, and "askpass FILE" read it from FILE. The box
// asks for it in its VPN settings (or takes it with the upload); a FILE that
// came in the archive is that passphrase, kept with the secrets.
func (p *parser) convertAskpass(n int, text string, toks []string) bool {
	if len(toks) > 2 {
		p.fail(n, text, "too many parameters")
		return true
	}
	if len(toks) == 2 && p.files != nil {
		if data, err := p.lookup(toks[1]); err == nil {
			pass, _, _ := strings.Cut(strings.ReplaceAll(strings.TrimPrefix(string(data), "\ufeff"), "\r\n", "\n"), "\n")
			if pass != "" && len(pass) <= maxSecretLen {
				if p.prof.Credentials == nil {
					p.prof.Credentials = &Credentials{}
				}
				p.prof.Credentials.Passphrase = &pass
				p.note("%s line %d: %q: the key's passphrase was taken from %s and stored with the box's secrets, not in the profile",
					path.Base(p.name), n, text, toks[1])
				return true
			}
		}
	}
	why := "openvpn asked for the key's passphrase on a terminal"
	if len(toks) == 2 {
		why = "the passphrase file " + toks[1] + " was not uploaded"
	}
	p.note("%s line %d: %q dropped: %s; the box asks for the passphrase in its VPN settings instead (or give it with the upload)",
		path.Base(p.name), n, text, why)
	return true
}

// convertLoginFile: "auth-user-pass FILE" whose file did not come with the
// upload (a lone .ovpn, or an archive without it) is kept as a bare
// "auth-user-pass": the box asks for the username and password itself.
func (p *parser) convertLoginFile(n int, text string, toks []string) bool {
	if len(toks) != 2 || toks[1] == "[inline]" {
		return false
	}
	if p.files != nil {
		if _, err := p.lookup(toks[1]); err == nil || !strings.Contains(err.Error(), "not in the uploaded archive") {
			return false // found (inlined below), or an ambiguous name
		}
	}
	p.prof.Info.NeedsUserPass = true
	p.note("%s line %d: %q: the file %s was not uploaded, so the line became \"auth-user-pass\" and the box asks for the VPN username and password in its VPN settings (or give them with the upload)",
		path.Base(p.name), n, text, toks[1])
	p.emit(n, "auth-user-pass")
	return true
}

// resolvScripts are the DNS helpers Linux how-tos put in up/down: netctl
// applies the VPN's DNS itself (pushdns.go), so they have nothing to do.
var resolvScripts = map[string]bool{
	"update-resolv-conf": true, "update-resolv-conf.sh": true, "update-systemd-resolved": true,
	"client.up": true, "client.down": true, // Fedora/RHEL's examples of the same
}

// managedByBox names the lines of a PC's client config that are about
// where openvpn logs, whether it daemonises, its own management socket, or
// the PC's DNS: the box decides all of these itself, so the lines are left
// out with a note rather than refusing a profile the installer cannot edit
// on a phone. A script other than a known DNS helper is still refused: it
// may do what the tunnel needs (routes), and the box runs no programs.
func managedByBox(toks []string) (string, bool) {
	switch name := toks[0]; name {
	case "log", "log-append", "status", "status-version", "writepid", "daemon", "syslog",
		"cd", "chroot", "tmp-dir", "replay-persist", "suppress-timestamps", "machine-readable-output":
		return "the box runs OpenVPN itself and keeps its log", true
	case "dev-node":
		return "it names a Windows network adapter or a device file; the box uses its own tunnel device", true
	case "management", "management-hold", "management-query-passwords", "management-log-cache",
		"management-client-user", "management-client-group", "management-up-down",
		"management-forget-disconnect", "management-signal", "management-query-proxy", "management-query-remote":
		return "the box drives OpenVPN through its own management interface", true
	case "script-security":
		return "the box runs no scripts", true
	case "up", "down":
		if f := strings.Fields(strings.Join(toks[1:], " ")); len(f) > 0 && resolvScripts[path.Base(f[0])] {
			return "the script only sets the PC's DNS servers, and the box applies the VPN's DNS itself", true
		}
	}
	return "", false
}
