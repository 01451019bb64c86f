package openvpn

import (
	"bytes"
	"crypto/x509"
	"edgebox/api/vpnapi"
	"edgebox/internal/lazyregexp"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxProfileSize bounds one profile file (a .ovpn with everything inline is
// typically 5-10 KiB).
const MaxProfileSize = 1 << 20

// Profile is a client profile normalised for the box: the directives of the
// upload that passed the allow-list, with every key and certificate inline,
// so it is one self-contained file.
type Profile struct {
	// Text is the normalised config openvpn reads.
	Text []byte
	// Info describes the profile for people.
	Info ProfileInfo
	// Credentials holds an auth-user-pass username/password that came with
	// the upload; they are stored apart from the profile, never inside it.
	Credentials *Credentials

	origin []string // origin[i] names the upload line of Text line i+1
}

// ProfileInfo is what the API shows about the stored profile (vpnapi).
type ProfileInfo = vpnapi.ProfileInfo

// LineError is a profile line that was refused.
type LineError struct {
	File   string
	Line   int
	Text   string // the line as uploaded, trimmed
	Reason string
}

func (e *LineError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Reason)
	}
	// The line as written, in plain quotes: %q's backslashes before every
	// quote of a line like static-challenge "Enter code" 1 read as part of
	// the line on a phone. Bytes that are not UTF-8 (a Latin-1 comment)
	// become '?'.
	return fmt.Sprintf("%s line %d: \"%s\" refused: %s", e.File, e.Line, strings.ToValidUTF8(e.Text, "?"), e.Reason)
}

// firstWord is toks[0], or "".
func firstWord(toks []string) string {
	if len(toks) == 0 {
		return ""
	}
	return toks[0]
}

// headerPrefix starts the comment lines the box adds on top of a stored
// profile to remember where it came from.
const headerPrefix = "# edgebox-"

// ParseProfile checks an uploaded config against the allow-list and
// normalises it. files holds the other files of an archive upload, keyed by
// their path inside it (nil for a lone .ovpn), so directives naming them can
// be inlined. All refused lines are reported together.
func ParseProfile(data []byte, name string, files map[string][]byte) (*Profile, error) {
	if len(data) > MaxProfileSize {
		return nil, errTooLarge(name)
	}
	wasUTF16 := false
	if u, ok := fromUTF16(data); ok {
		data, wasUTF16 = u, true
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("%s: profile is not a text file (it holds NUL bytes): upload the .ovpn file itself, or the .zip/.tar it came in", name)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	p := &parser{
		name:  name,
		dir:   path.Dir(name),
		files: files,
		prof:  &Profile{Info: ProfileInfo{Name: path.Base(name)}},
	}
	if wasUTF16 {
		p.note("%s was saved as UTF-16 (Windows \"Unicode\"), which openvpn cannot read: converted to UTF-8", path.Base(name))
	}
	p.parse(strings.Split(text, "\n"), 0, false)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	if !p.sawRemote {
		return nil, fmt.Errorf("%s: no \"remote\" line: the profile does not say which server to connect to", name)
	}
	if n := len(p.prof.Info.Remotes); n > MaxRemotes {
		return nil, errTooManyRemotes(name, n)
	}
	if !p.sawClient {
		return nil, fmt.Errorf("%s: neither \"client\" nor \"tls-client\": this is not a client profile", name)
	}
	for tag, n := range p.inlineRef {
		if !p.inlined[tag] {
			p.fail(n, tag+" [inline]", "no <%s> block follows", tag)
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	if p.prof.Info.DevType == "" {
		p.prof.Info.DevType = "tun"
	}
	p.convertCiphers()
	p.allowWeakPKI()
	p.prof.Text = []byte(p.out.String())
	return p.prof, nil
}

type parser struct {
	weak           string // why the PKI is too weak for OpenSSL 3 (weakpki.go)
	weakLine       int
	hasCertProfile bool // the profile sets tls-cert-profile itself
	name           string
	dir            string
	files          map[string][]byte
	prof           *Profile
	out            strings.Builder
	errs           []error

	sawRemote, sawClient bool
	// What the cipher conversion needs to know (top level only).
	cipher, cipherText  string
	cipherLine          int
	dataCiphers         string
	hasFallback, legacy bool
	hasProviders        bool
	// compat-mode before 2.4 makes openvpn offer BF-CBC when no cipher
	// is set (the line, for the note)
	compatBF     string
	compatBFLine int
	// optional are the directives ignore-unknown-option named
	optional map[string]bool
	// inlineRef remembers "ca [inline]"-style lines so a missing block is
	// caught here rather than by openvpn.
	inlineRef map[string]int
	inlined   map[string]bool
}

func (p *parser) fail(line int, text, format string, args ...any) {
	if len(p.errs) >= 20 {
		return
	}
	p.errs = append(p.errs, &LineError{File: path.Base(p.name), Line: line, Text: text, Reason: fmt.Sprintf(format, args...)})
}

func (p *parser) emit(line int, s string) {
	p.out.WriteString(s)
	p.out.WriteByte('\n')
	n := strings.Count(s, "\n") + 1
	for range n {
		p.prof.origin = append(p.prof.origin, fmt.Sprintf("%s line %d", path.Base(p.name), line))
	}
}

// parse walks lines; base is the line number of lines[0] minus one and
// inConnection restricts directives to those valid in a <connection> block.
func (p *parser) parse(lines []string, base int, inConnection bool) {
	for i := 0; i < len(lines); i++ {
		n := base + i + 1
		raw := lines[i]
		if len(raw) > maxLineLen {
			p.fail(n, "", "line is longer than %d characters", maxLineLen)
			continue
		}
		if strings.HasPrefix(raw, headerPrefix) && !inConnection {
			p.readHeader(raw)
			continue
		}
		toks, err := tokenize(raw)
		if err != nil && reWindowsPath.MatchString(raw) {
			// "ca C:\Users\me\ca.crt" as Windows people write it: to
			// openvpn those are bad escapes, but the file it names is
			// clear. Only for directives whose file is inlined, so the
			// line itself never reaches openvpn.
			// A directive the box refuses anyway ("up C:\...\connect.bat")
			// is refused for what it is, not for its backslashes.
			t, err2 := tokenize(strings.ReplaceAll(raw, `\`, "/"))
			if _, known := allowed[strings.TrimPrefix(firstWord(t), "--")]; err2 == nil && len(t) >= 2 && (allowed[strings.TrimPrefix(t[0], "--")] == fileArg || !known) {
				toks, err = t, nil
			}
		}
		if err != nil {
			p.fail(n, strings.TrimSpace(raw), "%v", err)
			continue
		}
		if len(toks) == 0 {
			continue
		}
		toks[0] = strings.TrimPrefix(toks[0], "--")
		// An inline block: "<tag>" alone on its line, up to a line that
		// starts with "</tag>" after leading spaces, as openvpn reads it.
		if t := toks[0]; len(toks) == 1 && len(t) > 2 && t[0] == '<' && t[len(t)-1] == '>' {
			tag := t[1 : len(t)-1]
			closeTag := "</" + tag + ">"
			end := -1
			for j := i + 1; j < len(lines); j++ {
				if strings.HasPrefix(strings.TrimLeft(lines[j], " \t\r\v\f"), closeTag) {
					end = j
					break
				}
			}
			if end < 0 {
				p.fail(n, t, "no closing %s", closeTag)
				return
			}
			body := lines[i+1 : end]
			p.block(n, tag, body, inConnection)
			i = end
			continue
		}
		p.directive(n, strings.TrimSpace(raw), toks, inConnection)
	}
}

// readHeader restores name and import time from a stored profile.
func (p *parser) readHeader(line string) {
	k, v, ok := strings.Cut(strings.TrimPrefix(line, headerPrefix), ": ")
	if !ok {
		return
	}
	switch k {
	case "source":
		p.prof.Info.Name = v
	case "imported":
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			p.prof.Info.ImportedAt = t
		}
	case "note":
		p.prof.Info.Notes = append(p.prof.Info.Notes, v)
	case "note+":
		if n := len(p.prof.Info.Notes); n > 0 {
			p.prof.Info.Notes[n-1] += v
		}
	}
}

func (p *parser) directive(n int, text string, toks []string, inConnection bool) {
	name := toks[0]
	// "setenv opt X ..." makes openvpn apply X (only its unknown-option error
	// becomes a warning), so X must pass the allow-list itself.
	if (name == "setenv" || name == "setenv-safe") && len(toks) >= 3 && toks[1] == "opt" {
		if p.dropOptional(n, text, toks[2]) {
			return
		}
		p.checkOnly(n, text, toks[2:], inConnection)
		p.trackCompat(n, text, toks[2:], inConnection)
		p.emit(n, text)
		return
	}
	if p.convertField(n, text, toks, inConnection) {
		return
	}
	if why, ok := droppedWhy(name); ok {
		p.note("%s line %d: %q dropped: %s", path.Base(p.name), n, text, why)
		return
	}
	kind, ok := allowed[name]
	if !ok {
		if p.optional[name] && p.dropOptional(n, text, name) {
			return
		}
		p.fail(n, text, "%s", refusedWhy(name))
		return
	}
	if inConnection && !connectionAllowed[name] {
		p.fail(n, text, "%s is not allowed inside <connection>", name)
		return
	}
	switch name {
	case "client", "tls-client":
		p.sawClient = true
	case "remote":
		p.sawRemote = true
		p.prof.Info.Remotes = append(p.prof.Info.Remotes, strings.Join(toks[1:], " "))
	case "dev":
		if len(toks) == 2 && p.prof.Info.DevType == "" {
			switch {
			case strings.HasPrefix(toks[1], "tun"):
				p.prof.Info.DevType = "tun"
			case strings.HasPrefix(toks[1], "tap"):
				p.prof.Info.DevType = "tap"
			}
		}
	case "dev-type":
		if len(toks) != 2 || (toks[1] != "tun" && toks[1] != "tap") {
			p.fail(n, text, "dev-type must be tun or tap")
			return
		}
		p.prof.Info.DevType = toks[1]
	case "http-proxy":
		if len(toks) > 3 && toks[3] != "auto" && toks[3] != "auto-nct" && toks[3] != "[inline]" {
			p.fail(n, text, "the proxy credentials file %q is not allowed; put them inline as <http-proxy-user-pass>", toks[3])
			return
		}
	case "socks-proxy":
		if len(toks) > 3 {
			p.fail(n, text, "a SOCKS credentials file is not allowed")
			return
		}
	case "crl-verify":
		if len(toks) > 2 {
			p.fail(n, text, "crl-verify with a directory is not allowed; inline the CRL as <crl-verify>")
			return
		}
	case "connection", "http-proxy-user-pass":
		p.fail(n, text, "%s is only allowed as an inline <%s> block", name, name)
		return
	case "auth-user-pass":
		p.prof.Info.NeedsUserPass = true
		if len(toks) == 1 {
			p.emit(n, "auth-user-pass")
			return
		}
	case "providers":
		for _, v := range toks[1:] {
			if v != "legacy" && v != "default" {
				p.fail(n, text, "only OpenSSL's built-in providers \"legacy\" and \"default\" can be loaded")
				return
			}
		}
		p.hasProviders = true
	case "cipher", "data-ciphers", "ncp-ciphers", "data-ciphers-fallback":
		if len(toks) == 2 && slices.ContainsFunc(strings.Split(toks[1], ":"), func(c string) bool { return strings.EqualFold(c, "none") }) {
			p.fail(n, text, "%s", errCipherNone)
			return
		}
	}
	switch name {
	case "cipher":
		if len(toks) == 2 && !inConnection {
			p.cipher, p.cipherText, p.cipherLine = strings.ToUpper(toks[1]), text, n
		}
	case "data-ciphers", "ncp-ciphers":
		if len(toks) == 2 {
			p.dataCiphers = toks[1]
		}
	case "data-ciphers-fallback":
		p.hasFallback = true
	case "comp-lzo", "ns-cert-type":
		p.legacy = true // OpenVPN 2.0-2.3 era: no cipher then meant BF-CBC
	case "redirect-gateway":
		if !slices.Contains(toks[1:], "def1") {
			// Without def1 openvpn deletes the main default route
			// and puts its own in: that route is netctl's, which
			// moves it with the uplink and would cut the tunnel's
			// traffic on the next failover. def1's two /1 routes
			// take the same traffic and leave it alone.
			conv := strings.Join(append(slices.Clone(toks), "def1"), " ")
			p.note("%s line %d: %q converted to %q: the tunnel still takes all traffic, and the box keeps its default route, which follows the uplink that is up",
				path.Base(p.name), n, text, conv)
			p.emit(n, conv)
			return
		}
	case "tls-cert-profile":
		p.hasCertProfile = true
	case "ignore-unknown-option":
		if p.optional == nil {
			p.optional = map[string]bool{}
		}
		for _, o := range toks[1:] {
			p.optional[o] = true
		}
	case "compat-mode":
		p.trackCompat(n, text, toks, inConnection)
	case "dhcp-option", "dns":
		p.note("%s line %d: %q kept: while the tunnel is up, the box asks the VPN's DNS servers for names in the VPN's domains (dhcp-option DOMAIN), and its uplink's for the rest; the VPN page shows which",
			path.Base(p.name), n, text)
	}
	if kind == fileArg && len(toks) >= 2 {
		p.inlineFile(n, text, toks)
		return
	}
	p.emit(n, text)
}

// trackCompat notes a compat-mode before 2.4 (convertCiphers).
func (p *parser) trackCompat(n int, text string, toks []string, inConnection bool) {
	if toks[0] == "compat-mode" && len(toks) == 2 && !inConnection && versionBefore(toks[1], 2, 4) {
		p.compatBF, p.compatBFLine = text, n
	}
}

// checkOnly applies the allow-list to a directive that setenv opt wraps.
func (p *parser) checkOnly(n int, text string, toks []string, inConnection bool) {
	kind, ok := allowed[toks[0]]
	_, dropped := droppedWhy(toks[0])
	switch {
	case dropped:
		// openvpn only warns about an option setenv opt wraps.
	case !ok:
		p.fail(n, text, "%s", refusedWhy(toks[0]))
	case kind == fileArg && len(toks) > 1:
		p.fail(n, text, "%s names a file; use it without setenv opt", toks[0])
	case inConnection && !connectionAllowed[toks[0]]:
		p.fail(n, text, "%s is not allowed inside <connection>", toks[0])
	}
}

// inlineFile replaces "ca ca.crt" with a <ca> block holding the file from
// the archive.
func (p *parser) inlineFile(n int, text string, toks []string) {
	tag, arg := toks[0], toks[1]
	if arg == "[inline]" {
		if p.inlineRef == nil {
			p.inlineRef = map[string]int{}
		}
		p.inlineRef[tag] = n
		// The block stands for the directive: openvpn 2.6 takes a
		// literal "[inline]" for a file name, so "tls-auth [inline] 1"
		// after its block (some exporters write it so) failed with
		// "--tls-auth fails with '[inline]': No such file".
		if tag == "tls-auth" && len(toks) == 3 {
			p.emit(n, "key-direction "+quoteArg(toks[2]))
		}
		return
	}
	if len(toks) > 2 && !(tag == "tls-auth" && len(toks) == 3) {
		p.fail(n, text, "too many parameters")
		return
	}
	if p.files == nil && tag == "auth-user-pass" {
		p.fail(n, text, "auth-user-pass names the file %q, which was not uploaded; write just \"auth-user-pass\" and give the username and password with the upload or later", arg)
		return
	}
	if p.files == nil {
		p.fail(n, text, "%s names the file %q, but a single .ovpn upload must carry it inline as <%s>...</%s>; inline it or upload a .tar or .zip holding the file too", tag, arg, tag, tag)
		return
	}
	data, err := p.lookup(arg)
	if err != nil {
		p.fail(n, text, "%v", err)
		return
	}
	if tag == "tls-auth" && len(toks) == 3 {
		p.emit(n, "key-direction "+quoteArg(toks[2]))
	}
	if tag != "pkcs12" {
		// Notepad's "UTF-8 with BOM": openvpn reads the mark as text
		// before the key ("Insufficient key material", or a PEM it
		// cannot find)
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	}
	body := strings.Split(strings.TrimRight(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n"), "\n")
	if tag == "pkcs12" {
		enc := base64.StdEncoding.EncodeToString(data)
		body = nil
		for len(enc) > 64 {
			body = append(body, enc[:64])
			enc = enc[64:]
		}
		body = append(body, enc)
	} else if u, ok := fromUTF16(data); ok {
		data = u // a key or certificate saved from Notepad as "Unicode"
		body = strings.Split(strings.TrimRight(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n"), "\n")
	} else if bytes.IndexByte(data, 0) >= 0 {
		p.fail(n, text, "%s is not a text file", arg)
		return
	}
	for _, l := range body {
		if len(l) > maxLineLen {
			p.fail(n, text, "%s has a line longer than %d characters", arg, maxLineLen)
			return
		}
		// A line that looks like a tag could end the block early and
		// smuggle directives past the allow-list.
		if strings.HasPrefix(strings.TrimLeft(l, " \t\r\v\f"), "<") {
			p.fail(n, text, "%s holds a line starting with '<', which is not a key or certificate", arg)
			return
		}
	}
	p.block(n, tag, body, false)
}

// reWindowsPath is a directive naming a file by a Windows absolute path.
var reWindowsPath = lazyregexp.New(`^\s*\S+\s+["']?[A-Za-z]:\\`)

// lookup finds a file an archive's config names: relative to the config's
// folder, else by its base name when that is unique (older gateways used
// absolute paths like /etc/openvpn/keys/ca.crt, Windows ones C:\...\ca.crt).
func (p *parser) lookup(name string) ([]byte, error) {
	clean := path.Clean(path.Join(p.dir, name))
	if d, ok := p.files[clean]; ok {
		return d, nil
	}
	if d, ok := p.files[path.Clean(name)]; ok {
		return d, nil
	}
	// Windows GUI configs name files as C:\Users\...\config\ca.crt.
	base := name[strings.LastIndexAny(name, `/\`)+1:]
	var found []string
	for k := range p.files {
		if path.Base(k) == base {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 1:
		return p.files[found[0]], nil
	case 0:
		return nil, fmt.Errorf("the file %q is not in the uploaded archive", name)
	}
	return nil, fmt.Errorf("the file %q matches several files in the archive (%s)", name, strings.Join(found, ", "))
}

// block checks and emits one inline block.
func (p *parser) block(n int, tag string, body []string, inConnection bool) {
	if _, ok := allowed[tag]; !ok || !fileInlineTags[tag] {
		p.fail(n, "<"+tag+">", "inline <%s> is not allowed: %s", tag, refusedWhy(tag))
		return
	}
	if inConnection {
		p.fail(n, "<"+tag+">", "inline blocks are not allowed inside <connection>")
		return
	}
	for j, l := range body {
		if len(l) > maxLineLen {
			p.fail(n+1+j, "", "line is longer than %d characters", maxLineLen)
			return
		}
	}
	if p.inlined == nil {
		p.inlined = map[string]bool{}
	}
	p.inlined[tag] = true
	content := strings.Join(body, "\n")
	switch tag {
	case "connection":
		p.emit(n, "<connection>")
		p.parse(body, n, true)
		p.emit(n+len(body)+1, "</connection>")
		return
	case "auth-user-pass":
		// Credentials never stay in the stored profile.
		lines := nonEmpty(body)
		switch {
		case len(lines) == 2:
			p.prof.Credentials = &Credentials{Username: &lines[0], Password: &lines[1]}
		case len(lines) == 1 && strings.TrimSpace(body[0]) == lines[0]:
			// The username alone, as openvpn 2.6 allows: it asks for
			// the password, and so does the box (a login file kept
			// without the password on purpose).
			p.prof.Credentials = &Credentials{Username: &lines[0]}
			p.note("%s line %d: the login holds the username %s only; the box asks for the VPN password in its VPN settings (or give it with the upload)", path.Base(p.name), n, lines[0])
		case len(lines) == 0:
			p.note("%s line %d: the login is empty; the box asks for the VPN username and password in its VPN settings (or give them with the upload)", path.Base(p.name), n)
		default:
			p.fail(n, "<auth-user-pass>", "the login must hold the username on its first line and the password on its second, and has %d lines", len(lines))
			return
		}
		p.prof.Info.NeedsUserPass = true
		p.emit(n, "auth-user-pass")
		return
	case "ca", "cert", "extra-certs":
		if !strings.Contains(content, "-----BEGIN CERTIFICATE-----") {
			p.fail(n, "<"+tag+">", "<%s> holds no PEM certificate", tag)
			return
		}
		p.weakCerts(n, tag, content)
		if tag == "cert" {
			p.certInfo(content)
		}
	case "key":
		if !strings.Contains(content, "PRIVATE KEY-----") {
			p.fail(n, "<key>", "<key> holds no PEM private key")
			return
		}
		p.prof.Info.KeyEncrypted = strings.Contains(content, "ENCRYPTED")
	case "tls-auth", "tls-crypt":
		if !strings.Contains(content, "-----BEGIN OpenVPN Static key V1-----") {
			p.fail(n, "<"+tag+">", "<%s> holds no OpenVPN static key", tag)
			return
		}
	case "tls-crypt-v2":
		if !strings.Contains(content, "-----BEGIN OpenVPN tls-crypt-v2 client key-----") {
			p.fail(n, "<tls-crypt-v2>", "<tls-crypt-v2> holds no tls-crypt-v2 client key")
			return
		}
	}
	p.emit(n, "<"+tag+">")
	for j, l := range body {
		p.emit(n+1+j, strings.TrimRight(l, " \t\r"))
	}
	p.emit(n+len(body)+1, "</"+tag+">")
}

func (p *parser) certInfo(content string) {
	blk, _ := pem.Decode([]byte(content[strings.Index(content, "-----BEGIN CERTIFICATE-----"):]))
	if blk == nil {
		return
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return
	}
	t := c.NotAfter.UTC()
	p.prof.Info.CertNotAfter = &t
	p.prof.Info.CertSubject = c.Subject.String()
}

func nonEmpty(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// originOf names the upload line behind line n (1-based) of Text, to
// translate openvpn's "profile.ovpn:12" into words the admin recognises.
func (p *Profile) originOf(n int) string {
	if n < 1 || n > len(p.origin) {
		return ""
	}
	return p.origin[n-1]
}

// headerLen is how many lines withHeader puts on top of Text.
func (p *Profile) headerLen() int {
	h := p.withHeader()
	return bytes.Count(h[:len(h)-len(p.Text)], []byte("\n"))
}

// withHeader returns Text with the box's header lines on top.
func (p *Profile) withHeader() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%ssource: %s\n", headerPrefix, safeName(p.Info.Name))
	fmt.Fprintf(&b, "%simported: %s\n", headerPrefix, p.Info.ImportedAt.UTC().Format(time.RFC3339))
	// openvpn refuses any line over 256 bytes, comments too: long notes
	// go on continuation lines.
	for _, n := range p.Info.Notes {
		n = strings.ReplaceAll(n, "\n", " ")
		key := "note"
		for {
			cut := min(len(n), 180)
			for cut < len(n) && !utf8.RuneStart(n[cut]) {
				cut--
			}
			chunk := n[:cut]
			fmt.Fprintf(&b, "%s%s: %s\n", headerPrefix, key, chunk)
			n, key = n[len(chunk):], "note+"
			if n == "" {
				break
			}
		}
	}
	b.Write(p.Text)
	return b.Bytes()
}

// safeName keeps a file name printable and on one line.
func safeName(s string) string {
	s = path.Base(s)
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			continue
		}
		b.WriteRune(r)
		if b.Len() > 100 {
			break
		}
	}
	if b.Len() == 0 {
		return "profile"
	}
	return b.String()
}

// note records what the import changed, for the installer to read.
func (p *parser) note(format string, args ...any) {
	if len(p.prof.Info.Notes) < 20 {
		p.prof.Info.Notes = append(p.prof.Info.Notes, fmt.Sprintf(format, args...))
	}
}

// convertCiphers makes a profile written for OpenVPN 2.0-2.4 connect with
// openvpn 2.6, which negotiates the data cipher from --data-ciphers and
// ignores --cipher there ("DEPRECATED OPTION: --cipher set to ... but
// missing in --data-ciphers"): the old server's cipher joins data-ciphers
// and becomes data-ciphers-fallback for servers that cannot negotiate. A
// 2.0-era profile without any cipher line used BF-CBC. BF-CBC and its kind
// live in OpenSSL 3's legacy provider, which is then loaded.
func (p *parser) convertCiphers() {
	cipher, why := p.cipher, ""
	switch {
	case cipher == "NONE":
		return
	case cipher != "":
		why = fmt.Sprintf("%q (%s line %d)", p.cipherText, path.Base(p.name), p.cipherLine)
	case p.dataCiphers == "" && !p.hasFallback && p.legacy:
		cipher, why = "BF-CBC", "no cipher line, which meant BF-CBC before OpenVPN 2.5,"
	case !p.hasFallback && p.compatBF != "":
		// openvpn adds BF-CBC to data-ciphers itself, and without
		// the legacy provider refuses to start
		cipher, why = "BF-CBC", fmt.Sprintf("%q (%s line %d)", p.compatBF, path.Base(p.name), p.compatBFLine)
	default:
		return
	}
	at := max(p.cipherLine, 1)
	list := p.dataCiphers
	if list == "" {
		list = defaultDataCiphers
	}
	var done []string
	if !containsFold(strings.Split(list, ":"), cipher) {
		list += ":" + cipher
		p.emit(at, "data-ciphers "+list)
		done = append(done, "data-ciphers "+list)
	}
	if !p.hasFallback {
		p.emit(at, "data-ciphers-fallback "+cipher)
		done = append(done, "data-ciphers-fallback "+cipher)
	}
	if legacyCiphers[cipher] && !p.hasProviders {
		p.emit(at, "providers legacy default")
		done = append(done, "providers legacy default (OpenSSL's legacy provider, for "+cipher+")")
	}
	if len(done) > 0 {
		p.note("converted for openvpn 2.6: %s became %s", why, strings.Join(done, ", "))
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
