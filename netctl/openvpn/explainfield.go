package openvpn

import (
	"bufio"
	"bytes"
	"edgebox/internal/lazyregexp"
	"fmt"
	"strings"
)

// Explanations that need the log line's own words or the profile's lines,
// so that the installer reads the real reason and not a family of them.

// reX509Name is openvpn's verify-x509-name failure:
// "VERIFY X509NAME ERROR: CN=Office VPN Server, must be Branch VPN Server".
var reX509Name = lazyregexp.New(`VERIFY X509NAME ERROR: (.*), must be (.*)$`)

// explainX509Name names both sides of a verify-x509-name mismatch.
func explainX509Name(msg string) (string, bool) {
	m := reX509Name.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return fmt.Sprintf("server certificate rejected: the profile's verify-x509-name wants %q, but the VPN server's certificate is %q; import a profile with the server's name, or ask the server's admin which name its certificate carries",
		m[2], m[1]), true
}

// ErrCompFraming: a packet from the server did not start with the
// compression header the profile's comp-lzo or compress line makes openvpn
// expect ("Bad compression stub decompression header byte", "Bad LZO
// decompression header byte"): the server uses no compression, or another.
const ErrCompFraming = "compression mismatch: the VPN server does not use the compression the profile asks for, so nothing it sends through the tunnel can be read"

func isCompFraming(msg string) bool {
	return strings.Contains(msg, "decompression header byte")
}

// explainCompFraming adds the profile's own compression line and what to
// do about it.
func explainCompFraming(compLine string) string {
	if compLine == "" {
		return ErrCompFraming + "; ask the server's admin for its comp-lzo or compress line and add it to the profile"
	}
	return fmt.Sprintf("%s; the profile has %q, which a server without compression cannot read (even \"comp-lzo no\" adds a header byte): remove that line from the profile and import it again, or ask the server's admin for its comp-lzo or compress setting", ErrCompFraming, compLine)
}

// compressionLine returns the stored profile's comp-lzo or compress line,
// or "" when it has none.
func compressionLine(text []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), MaxProfileSize)
	for sc.Scan() {
		toks, err := tokenize(sc.Text())
		if err != nil || len(toks) == 0 {
			continue
		}
		if toks[0] == "comp-lzo" || toks[0] == "compress" {
			return strings.TrimSpace(sc.Text())
		}
	}
	return ""
}
