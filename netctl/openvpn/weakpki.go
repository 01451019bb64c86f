package openvpn

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path"
	"strings"
)

// Profiles from OpenVPN 2.0-2.3 servers often carry an easy-rsa 2 PKI:
// certificates signed with SHA1 (or MD5), sometimes 512-bit RSA keys. The
// old server's OpenSSL took them; OpenSSL 3, under openvpn 2.6, refuses them
// at its default security level ("ca md too weak", at import: "Cannot load
// inline certificate file"). Such a profile gets "tls-cert-profile
// insecure" (security level 0, for this profile only) and the installer
// is told why and what to ask the server's admin for.

// weakSigs are signature algorithms OpenSSL 3 refuses at level 1.
var weakSigs = map[x509.SignatureAlgorithm]string{
	x509.MD2WithRSA: "MD2", x509.MD5WithRSA: "MD5", x509.SHA1WithRSA: "SHA1",
	x509.DSAWithSHA1: "SHA1", x509.ECDSAWithSHA1: "SHA1",
}

// weakCerts notes what in the PEM certificates of block tag is too weak
// for OpenSSL 3's default level; n is the block's line.
func (p *parser) weakCerts(n int, tag, content string) {
	rest := []byte(content)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			continue
		}
		var why []string
		if h, ok := weakSigs[c.SignatureAlgorithm]; ok {
			why = append(why, "signed with "+h)
		}
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 1024 {
			why = append(why, fmt.Sprintf("a %d-bit RSA key", k.N.BitLen()))
		}
		if len(why) > 0 && p.weak == "" {
			p.weak = fmt.Sprintf("the <%s> certificate %q (%s line %d) has %s", tag, c.Subject.CommonName, path.Base(p.name), n, strings.Join(why, " and "))
			p.weakLine = n
		}
	}
}

// allowWeakPKI adds "tls-cert-profile insecure" for a profile whose
// certificates OpenSSL 3 would refuse, unless the profile sets its own.
func (p *parser) allowWeakPKI() {
	if p.weak == "" || p.hasCertProfile {
		return
	}
	p.emit(p.weakLine, "tls-cert-profile insecure")
	p.note("converted for openvpn 2.6: %s, which OpenSSL 3 refuses by default; added tls-cert-profile insecure (for this profile only). Ask the server's admin to issue certificates signed with SHA-256", p.weak)
}
