package openvpn

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const (
	fakeCert = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----"
	fakeKey  = "-----BEGIN PRIVATE KEY-----\nMIIBfake\n-----END PRIVATE KEY-----"
	fakeTC   = "-----BEGIN OpenVPN Static key V1-----\n00112233445566778899aabbccddeeff\n-----END OpenVPN Static key V1-----"
)

// base is a minimal valid single-file profile; extra lines go after line 4.
func base(extra ...string) string {
	lines := []string{"client", "dev tun", "proto udp", "remote vpn.example.com 1194"}
	lines = append(lines, extra...)
	lines = append(lines, "<ca>", fakeCert, "</ca>", "<cert>", fakeCert, "</cert>", "<key>", fakeKey, "</key>", "<tls-crypt>", fakeTC, "</tls-crypt>")
	return strings.Join(lines, "\n") + "\n"
}

func TestTokenize(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  bool
	}{
		{"remote a 1194", []string{"remote", "a", "1194"}, false},
		{"  remote\ta  ", []string{"remote", "a"}, false},
		{"# comment", nil, false},
		{"; comment", nil, false},
		{"verb 3 # trailing", []string{"verb", "3"}, false},
		{"verb 3#x", []string{"verb", "3#x"}, false},
		{`setenv A "two words"`, []string{"setenv", "A", "two words"}, false},
		{`setenv A 'it''s'`, []string{"setenv", "A", "it", "s"}, false},
		{`setenv A "q\"uote"`, []string{"setenv", "A", `q"uote`}, false},
		{`u\p x`, nil, true}, // bad backslash, as openvpn says
		{`"up" /bin/sh`, []string{"up", "/bin/sh"}, false},
		{`u\ p`, []string{"u p"}, false},
		{`a "unterminated`, nil, true},
		{`a 'unterminated`, nil, true},
		{`a ""`, []string{"a", ""}, false},
	}
	for _, c := range cases {
		got, err := tokenize(c.in)
		if (err != nil) != c.err {
			t.Errorf("tokenize(%q) err = %v, want error %v", c.in, err, c.err)
			continue
		}
		if !c.err && !reflect.DeepEqual(got, c.want) {
			t.Errorf("tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestQuoteArgRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "two words", `q"uote`, `back\slash`, "#hash", ";semi", "", "it's"} {
		toks, err := tokenize("x " + quoteArg(s))
		if err != nil || len(toks) != 2 || toks[1] != s {
			t.Errorf("quoteArg(%q) = %s reads back as %q (%v)", s, quoteArg(s), toks, err)
		}
	}
}

// TestForbiddenDirectives: every directive that runs a program or touches
// the box's files is refused, with its line.
func TestForbiddenDirectives(t *testing.T) {
	forbidden := []string{
		"up /etc/openvpn/up.sh", "down /x", "route-up /x", "route-pre-down /x",
		"ipchange /x", "tls-verify /x", "auth-user-pass-verify /x via-env", "client-connect /x",
		"client-disconnect /x", "learn-address /x", "plugin /usr/lib/x.so", "iproute /x",
		"management-external-key", "config /etc/other.conf", "tls-export-cert /tmp", "capath /etc/ssl",
		"up /tmp/update-routes.sh", "down /etc/openvpn/down.sh",
		"askpass /etc/pass /x", "providers /tmp/evil", "engine dynamic", "tls-remote /C=DE/O=Firm",
		"server 10.0.0.0 255.255.255.0", "mode server", "push \"route 1.2.3.4\"", "secret static.key",
		"pkcs11-providers /x.so", "echo hi", "setenv opt up /bin/sh", "setenv-safe opt plugin /x.so",
		"--up /bin/sh", `"up" /bin/sh`, "crl-verify /etc/crl dir", "http-proxy p 3128 /etc/creds",
		"socks-proxy p 1080 /etc/creds", "ca /etc/ca.crt",
	}
	for _, d := range forbidden {
		_, err := ParseProfile([]byte(base(d)), "box.ovpn", nil)
		if err == nil {
			t.Errorf("%q accepted", d)
			continue
		}
		var le *LineError
		if !errors.As(err, &le) || le.Line != 5 || !strings.Contains(err.Error(), "box.ovpn line 5") {
			t.Errorf("%q: error %q does not name line 5", d, err)
		}
	}
	// Inline blocks are options too: <up> would be "up <script>".
	for _, tag := range []string{"up", "plugin", "management", "secret", "config"} {
		prof := base("<"+tag+">", "#!/bin/sh", "</"+tag+">")
		if _, err := ParseProfile([]byte(prof), "box.ovpn", nil); err == nil || !strings.Contains(err.Error(), "line 5") {
			t.Errorf("inline <%s>: err = %v", tag, err)
		}
	}
}

func TestAllowedProfile(t *testing.T) {
	prof := "\xef\xbb\xbf" + strings.ReplaceAll(base(
		"# comment", "; another", "", "nobind", "persist-key", "persist-tun",
		"remote-cert-tls server", "topology subnet", "data-ciphers AES-256-GCM:CHACHA20-POLY1305",
		"tls-version-min 1.2", "verb 3", "auth-user-pass", "setenv opt block-outside-dns",
		"--keepalive 10 60", "<connection>", "remote backup.example.com 443", "proto tcp-client", "</connection>",
		"key-direction 1", "<tls-auth>", fakeTC, "</tls-auth>",
	), "\n", "\r\n")
	p, err := ParseProfile([]byte(prof), "box.ovpn", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(p.Text)
	for _, w := range []string{"nobind\n", "<connection>\nremote backup.example.com 443\nproto tcp-client\n</connection>\n", "<tls-auth>\n", "auth-user-pass\n"} {
		if !strings.Contains(text, w) {
			t.Errorf("normalised profile lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "\r") || strings.Contains(text, "comment") || strings.HasPrefix(text, "\xef") {
		t.Errorf("normalised profile keeps CRs, comments or BOM:\n%q", text)
	}
	if !p.Info.NeedsUserPass || p.Info.DevType != "tun" || len(p.Info.Remotes) != 2 {
		t.Errorf("info = %+v", p.Info)
	}
	// The stored form parses back to the same text and info.
	p.Info.Name = "box.ovpn"
	again, err := ParseProfile(p.withHeader(), "profile.ovpn", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Text) != text || again.Info.Name != "box.ovpn" {
		t.Errorf("stored profile does not read back: name %q\n%s", again.Info.Name, again.Text)
	}
}

func TestProfileRefusals(t *testing.T) {
	cases := []struct {
		name, prof, want string
	}{
		{"no remote", "client\ndev tun\n", "no \"remote\""},
		{"not a client", "dev tun\nremote a\n", "not a client profile"},
		{"unclosed block", "client\nremote a\n<ca>\n" + fakeCert + "\n", "no closing </ca>"},
		{"long line", base("setenv X " + strings.Repeat("a", 300)), "longer than"},
		{"binary", "client\x00", "not a text file"},
		{"cert block without cert", base("<extra-certs>", "hello", "</extra-certs>"), "no PEM certificate"},
		{"file in single upload", base("tls-auth ta.key 1"), "must carry it inline"},
		{"inline ref without block", strings.Replace(base("dh [inline]"), "", "", 1), "no <dh> block"},
		{"connection line", base("connection x"), "only allowed as an inline"},
		{"directive in connection", base("<connection>", "remote a", "verb 3", "</connection>"), "not allowed inside <connection>"},
		{"bad quoting", base(`setenv A "x`), "no closing quotation"},
	}
	for _, c := range cases {
		_, err := ParseProfile([]byte(c.prof), "box.ovpn", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// A key or certificate file whose lines would close the block early must
// not smuggle directives into the profile.
func TestArchiveInjection(t *testing.T) {
	conf := "client\nremote a 1194\nca ca.crt\ncert c.crt\nkey c.key\n"
	files := map[string][]byte{
		"ca.crt": []byte(fakeCert + "\n</ca>\nup /bin/sh\n<ca>\n" + fakeCert),
		"c.crt":  []byte(fakeCert),
		"c.key":  []byte(fakeKey),
	}
	if _, err := ParseProfile([]byte(conf), "x.conf", files); err == nil || !strings.Contains(err.Error(), "starting with '<'") {
		t.Fatalf("err = %v", err)
	}
}

func TestArchives(t *testing.T) {
	conf := "client\ndev tun\nremote a 1194\nca ca.crt\ncert sub/c.crt\nkey /etc/openvpn/c.key\ntls-auth ta.key 1\nauth-user-pass login.txt\n"
	files := map[string]string{
		"gw/client.conf": conf, "gw/ca.crt": fakeCert, "gw/sub/c.crt": fakeCert,
		"gw/c.key": fakeKey, "gw/ta.key": fakeTC, "gw/login.txt": "alice\ns3cret\n",
		"__MACOSX/gw/._client.conf": "junk",
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for n, d := range files {
		w, _ := zw.Create(n)
		w.Write([]byte(d))
	}
	zw.Close()
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(makeTar(t, files))
	gw.Close()
	for name, data := range map[string][]byte{"p.zip": zbuf.Bytes(), "p.tar": makeTar(t, files), "p.tgz": gz.Bytes()} {
		p, err := ParseUpload(data, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		text := string(p.Text)
		for _, w := range []string{"<ca>\n" + fakeCert + "\n</ca>", "key-direction 1\n<tls-auth>", "<key>\n" + fakeKey, "\nauth-user-pass\n"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s: profile lacks %q:\n%s", name, w, text)
			}
		}
		if strings.Contains(text, "s3cret") {
			t.Errorf("%s: password left in the profile", name)
		}
		if p.Credentials == nil || *p.Credentials.Username != "alice" || *p.Credentials.Password != "s3cret" {
			t.Errorf("%s: credentials not taken from login.txt: %+v", name, p.Credentials)
		}
		if p.Info.Name != "client.conf" {
			t.Errorf("%s: name %q", name, p.Info.Name)
		}
	}
	// A small zip that unpacks to more than the bound is refused.
	var bomb bytes.Buffer
	bw := zip.NewWriter(&bomb)
	zeros := make([]byte, MaxProfileSize)
	for i := range 20 {
		w, _ := bw.Create(fmt.Sprintf("f%d.key", i))
		w.Write(zeros)
	}
	bw.Close()
	if bomb.Len() > MaxUploadSize {
		t.Fatalf("test zip is %d bytes, too big to be a bomb", bomb.Len())
	}
	if _, err := ParseUpload(bomb.Bytes(), "bomb.zip"); err == nil || !strings.Contains(err.Error(), "unpacks to more than") {
		t.Errorf("zip bomb: %v", err)
	}
	// Two configs, none, or a missing file are clear errors.
	two := map[string]string{"a.ovpn": base(), "b.conf": base()}
	if _, err := ParseUpload(makeTar(t, two), "x.tar"); err == nil || !strings.Contains(err.Error(), "several configs") {
		t.Errorf("two configs: %v", err)
	}
	if _, err := ParseUpload(makeTar(t, map[string]string{"ca.crt": fakeCert}), "x.tar"); err == nil || !strings.Contains(err.Error(), "no .ovpn") {
		t.Errorf("no config: %v", err)
	}
	missing := map[string]string{"c.ovpn": "client\nremote a\nca nothere.crt\n"}
	if _, err := ParseUpload(makeTar(t, missing), "x.tar"); err == nil || !strings.Contains(err.Error(), `"nothere.crt" is not in the uploaded archive`) {
		t.Errorf("missing file: %v", err)
	}
}

func TestRewriteLineRefs(t *testing.T) {
	p, err := ParseProfile([]byte(base("nobind x")), "mine.ovpn", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := "Options error: Unrecognized option or missing or extra parameter(s) in /run/check-1/candidate.ovpn:7: nobind (2.6.14)"
	got := rewriteLineRefs(msg, p)
	if !strings.Contains(got, "mine.ovpn line 5") {
		t.Errorf("rewrite = %q", got)
	}
}

func TestCredentialsValidate(t *testing.T) {
	bad := "a\nsignal SIGTERM"
	if err := (Credentials{Password: &bad}).Validate(); err == nil {
		t.Error("line break in a password accepted: it would inject a management command")
	}
	long := strings.Repeat("x", maxSecretLen+1)
	if err := (Credentials{Passphrase: &long}).Validate(); err == nil {
		t.Error("overlong passphrase accepted")
	}
	ok := `p"a\ss word`
	if err := (Credentials{Passphrase: &ok}).Validate(); err != nil {
		t.Error(err)
	}
	if got := mgmtQuote(ok); got != `"p\"a\\ss word"` {
		t.Errorf("mgmtQuote = %s", got)
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(base()), false)
	f.Add([]byte(base("<connection>", "remote b", "</connection>", "setenv opt up /x")), false)
	f.Add([]byte("client\nremote a\nca ca.crt\n"), true)
	f.Add([]byte("client\r\nremote a\r\n<key>\r\n"+fakeKey+"\r\n</key> trailing\r\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, withFiles bool) {
		var files map[string][]byte
		if withFiles {
			files = map[string][]byte{"ca.crt": []byte(fakeCert)}
		}
		p, err := ParseProfile(data, "f.ovpn", files)
		if err != nil {
			return
		}
		// Whatever passed must pass again from its stored form, and no
		// line of it may name a refused directive.
		again, err := ParseProfile(p.withHeader(), "profile.ovpn", nil)
		if err != nil {
			t.Fatalf("normalised profile refused: %v\n%s", err, p.Text)
		}
		if !bytes.Equal(again.Text, p.Text) {
			t.Fatalf("normalising is not stable:\n%s\n---\n%s", p.Text, again.Text)
		}
		inBlock := ""
		for _, l := range strings.Split(string(p.Text), "\n") {
			if inBlock != "" {
				if strings.HasPrefix(strings.TrimLeft(l, " \t\r\v\f"), "</"+inBlock+">") {
					inBlock = ""
				}
				continue
			}
			toks, err := tokenize(l)
			if err != nil || len(toks) == 0 {
				continue
			}
			name := strings.TrimPrefix(toks[0], "--")
			if len(toks) == 1 && len(name) > 2 && name[0] == '<' && name[len(name)-1] == '>' {
				inBlock = name[1 : len(name)-1]
				if !fileInlineTags[inBlock] {
					t.Fatalf("refused block <%s> passed", inBlock)
				}
				continue
			}
			if _, ok := allowed[name]; !ok && name != "" {
				t.Fatalf("refused directive %q passed", name)
			}
		}
	})
}

func FuzzParseUpload(f *testing.F) {
	f.Add(makeTar(f, map[string]string{"a/x.conf": "client\nremote a\nca ca.crt\n", "a/ca.crt": fakeCert}), "x.tar")
	f.Add([]byte("PK\x03\x04garbage"), "x.zip")
	f.Add([]byte{0x1f, 0x8b, 0, 0}, "x.tgz")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		p, err := ParseUpload(data, name)
		if err == nil && len(p.Text) == 0 {
			t.Fatal("accepted an empty profile")
		}
	})
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{`remote a 1194`, `setenv A "two words"`, `a 'b c' d\ e`, `x "q\"uote" # c`, `u\p`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n\x00") {
			return
		}
		toks, err := tokenize(line)
		if err != nil {
			return
		}
		// What the normaliser writes back must read as the same tokens.
		quoted := make([]string, len(toks))
		for i, tk := range toks {
			quoted[i] = quoteArg(tk)
		}
		again, err := tokenize(strings.Join(quoted, " "))
		if err != nil || !reflect.DeepEqual(again, toks) && len(toks) > 0 {
			t.Fatalf("%q -> %q -> %q (%v)", line, toks, again, err)
		}
	})
}
