package openvpn

import (
	"fmt"
	"path"
	"strings"
)

// argKind says how a directive's parameters are checked.
type argKind int

const (
	plain    argKind = iota // no parameter names a file
	fileArg                 // the first parameter names a file (or is [inline])
	inlineOK                // may also appear as an inline <block>
)

// allowed is the allow-list of directives an imported client profile may
// carry. Everything else is refused. Directives that run programs or touch
// files on the box are absent on purpose; those that name a key or
// certificate file are accepted only with the file inlined.
var allowed = map[string]argKind{
	// role and transport
	"client": plain, "tls-client": plain, "pull": plain, "nobind": plain,
	"dev": plain, "dev-type": plain, "proto": plain, "remote": plain,
	"remote-random": plain, "remote-random-hostname": plain, "port": plain,
	"rport": plain, "lport": plain, "bind": plain, "local": plain,
	"resolv-retry": plain, "float": plain, "persist-key": plain,
	"persist-tun": plain, "persist-remote-ip": plain, "persist-local-ip": plain,
	"connect-retry": plain, "connect-retry-max": plain, "connect-timeout": plain,
	"server-poll-timeout": plain, "explicit-exit-notify": plain,
	"http-proxy": plain, "http-proxy-option": plain, "socks-proxy": plain,
	"http-proxy-user-pass": inlineOK, "connection": inlineOK,
	"allow-pull-fqdn": plain, "mark": plain, "disable-dco": plain,
	// liveness and timers
	"keepalive": plain, "ping": plain, "ping-restart": plain, "ping-exit": plain,
	"ping-timer-rem": plain, "inactive": plain, "session-timeout": plain,
	"hand-window": plain, "tran-window": plain, "tls-timeout": plain,
	"reneg-sec": plain, "reneg-bytes": plain, "reneg-pkts": plain,
	"single-session": plain, "tls-exit": plain,
	// keys, certificates, TLS
	"ca": fileArg, "cert": fileArg, "key": fileArg, "extra-certs": fileArg,
	"pkcs12": fileArg, "dh": fileArg, "tls-auth": fileArg, "tls-crypt": fileArg,
	"tls-crypt-v2": fileArg, "crl-verify": fileArg, "peer-fingerprint": inlineOK,
	"key-direction": plain, "remote-cert-tls": plain, "remote-cert-ku": plain,
	"remote-cert-eku": plain, "ns-cert-type": plain, "verify-x509-name": plain,
	"verify-hash": plain, "tls-version-min": plain, "tls-version-max": plain,
	"tls-cipher": plain, "tls-ciphersuites": plain, "tls-groups": plain,
	"ecdh-curve": plain, "tls-cert-profile": plain, "cipher": plain,
	"data-ciphers": plain, "data-ciphers-fallback": plain, "ncp-ciphers": plain,
	"auth": plain, "replay-window": plain, "mute-replay-warnings": plain,
	// authentication (credentials are answered over the management interface)
	"auth-user-pass": fileArg, "auth-nocache": plain, "auth-retry": plain,
	"push-peer-info": plain,
	// addresses and routes
	"pull-filter": plain, "route-nopull": plain, "route": plain,
	"route-ipv6": plain, "route-gateway": plain, "route-ipv6-gateway": plain,
	"route-metric": plain, "route-delay": plain, "redirect-gateway": plain,
	"redirect-private": plain, "block-ipv6": plain, "ifconfig": plain,
	"ifconfig-ipv6": plain, "ifconfig-nowarn": plain, "topology": plain,
	"tun-ipv6": plain, "dhcp-option": plain, "dns": plain,
	// MTU and sockets
	"tun-mtu": plain, "tun-mtu-extra": plain, "link-mtu": plain,
	"mssfix": plain, "fragment": plain, "mtu-disc": plain, "mtu-test": plain,
	"txqueuelen": plain, "sndbuf": plain, "rcvbuf": plain, "fast-io": plain, "passtos": plain,
	"tcp-nodelay": plain, "socket-flags": plain,
	// compression
	"comp-lzo": plain, "compress": plain, "allow-compression": plain,
	"comp-noadapt": plain,
	// logging verbosity (the box decides where logs go)
	"verb": plain, "mute": plain,
	// harmless without scripts; "setenv opt X" is checked as X below
	"setenv": plain, "setenv-safe": plain, "ignore-unknown-option": plain,
	// 2.6's settings for old servers and routing
	"compat-mode": plain, "tun-mtu-max": plain, "allow-recursive-routing": plain,
	// OpenSSL providers: only the built-in ones ("providers legacy default"
	// for BF-CBC servers); checked in the parser
	"providers": plain,
}

// droppedWhy names the lines that old Linux and Windows client configs
// carry and that mean nothing on the box: they are left out with a note
// rather than refusing the whole profile. openvpn 2.6 would reject some of
// them (Windows-only options, options it removed).
func droppedWhy(name string) (string, bool) {
	switch name {
	case "user", "group":
		return "the box runs OpenVPN itself and decides its privileges", true
	case "route-method", "ip-win32", "dhcp-release", "dhcp-renew", "block-outside-dns",
		"register-dns", "tap-sleep", "win-sys", "show-net-up", "allow-nonadmin", "windows-driver":
		return "it applies to Windows only", true
	case "nice", "mlock":
		return "the box runs OpenVPN itself and decides its priority and memory", true
	case "opt-verify":
		// in old Linux how-tos; with 2.6 against an older server it
		// ends the connection over a harmless difference
		return "it is deprecated: it compares the two sides' option strings, which differ between OpenVPN versions", true
	case "keysize", "key-method", "max-routes", "ncp-disable", "no-iv", "no-replay":
		return "it is obsolete: OpenVPN 2.6 no longer has it and the default is right", true
	case "http-proxy-retry", "http-proxy-timeout", "socks-proxy-retry":
		// OpenVPN 2.3 how-tos for sites behind a proxy; 2.4 removed them
		// (a proxy is retried anyway, its wait is connect-timeout)
		return "it is obsolete: OpenVPN 2.4 removed it, and OpenVPN retries the proxy by itself", true
	}
	return "", false
}

// errCipherNone refuses a profile whose data channel may go unencrypted:
// with an old server that cannot negotiate, openvpn then sends the
// remote admins' sessions in the clear.
const errCipherNone = "with cipher none the VPN's traffic is not encrypted, and anyone on the way reads the remote admins' sessions; ask the server's admin for a profile with a cipher (AES-256-GCM, or the server's AES-256-CBC)"

// notOnList is refusedWhy's answer for a directive it knows nothing about.
const notOnList = "it is not on the list of directives the box accepts"

// optionalWhy is the note on a directive the profile marks as optional
// (setenv opt, ignore-unknown-option) that the box does not know.
const optionalWhy = "the profile marks it as optional and the box does not know it; OpenVPN skips such a line too"

// dropOptional drops a directive the profile marks as optional ("setenv
// opt X", or X named by ignore-unknown-option) when the box would refuse
// it only for not knowing it: a newer OpenVPN's or another platform's
// option, which openvpn 2.6 skips too; the profile still connects. One
// the box refuses for what it does (runs a program, reads a file) stays
// refused; one it drops anyway gets that note. Dropped lines never
// reach openvpn.
func (p *parser) dropOptional(n int, text, name string) bool {
	if _, known := allowed[name]; known {
		return false
	}
	why, dropped := droppedWhy(name)
	if !dropped {
		if refusedWhy(name) != notOnList {
			return false
		}
		why = optionalWhy
	}
	p.note("%s line %d: %q dropped: %s", path.Base(p.name), n, text, why)
	return true
}

// versionBefore reports whether v ("2.3.18") is before major.minor.
func versionBefore(v string, major, minor int) bool {
	var a, b int
	if _, err := fmt.Sscanf(v, "%d.%d", &a, &b); err != nil {
		return false
	}
	return a < major || a == major && b < minor
}

// legacyCiphers need OpenSSL 3's legacy provider.
var legacyCiphers = map[string]bool{
	"BF-CBC": true, "BF-CFB": true, "BF-OFB": true, "CAST5-CBC": true, "CAST5-CFB": true,
	"CAST5-OFB": true, "DES-CBC": true, "DES-CFB": true, "DES-OFB": true, "DESX-CBC": true,
	"RC2-CBC": true, "RC2-40-CBC": true, "RC2-64-CBC": true, "SEED-CBC": true, "IDEA-CBC": true,
}

// defaultDataCiphers is openvpn 2.6's own --data-ciphers default.
const defaultDataCiphers = "AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305"

// refusedWhy explains the directives people most often bring from other
// gateways, so the error tells them why rather than just "not allowed".
func refusedWhy(name string) string {
	switch name {
	case "script-security", "up", "down", "route-up", "route-pre-down", "ipchange",
		"tls-verify", "auth-user-pass-verify", "client-connect", "client-disconnect",
		"learn-address", "plugin", "iproute", "up-delay", "down-pre", "up-restart":
		return "it runs a program on the box"
	case "log", "log-append", "status", "status-version", "writepid", "cd", "chroot",
		"config", "daemon", "syslog", "tmp-dir", "replay-persist", "tls-export-cert",
		"dev-node", "capath", "askpass", "cryptoapicert",
		"auth-gen-token-secret", "machine-readable-output", "echo":
		return "it touches files or processes on the box, which the box manages itself"
	case "secret":
		// Old site-to-site set-ups (DD-WRT, MikroTik, OpenVPN 2.0
		// "static key" how-tos): the line names no file to avoid.
		return "static-key mode is not supported: one key for ever, no forward secrecy, and OpenVPN 2.7 removes it; ask the server's admin for a profile with certificates (TLS mode)"
	case "static-challenge":
		// Access Server, pfSense and OPNsense with TOTP export it: openvpn
		// would send the server the stored password without a code, and
		// the refusal would read as a wrong password for ever.
		return "the VPN server asks for a one-time code (two-factor) at every connection, and the box connects on its own with no one to type it; ask the server's admin for an account or profile for this box without the one-time code (certificate, or username and password only)"
	case "engine":
		return "it loads an OpenSSL engine (a program library) into OpenVPN; hardware keys are not supported"
	case "suppress-timestamps":
		return "the box runs OpenVPN itself; this is not configurable from a profile"
	case "server", "server-bridge", "mode", "tls-server", "push", "push-reset",
		"client-config-dir", "ccd-exclusive", "ifconfig-pool", "duplicate-cn",
		"client-to-client", "max-clients", "auth-gen-token":
		return "it is a server directive and this box is a VPN client"
	}
	switch {
	case strings.HasPrefix(name, "management"):
		return "the box drives OpenVPN through its own management interface"
	case strings.HasSuffix(name, "-verify"):
		return "it runs a program or reads files on the box"
	case name == "tls-remote":
		return "it is obsolete (removed in OpenVPN 2.4): write \"verify-x509-name NAME name\" with the server certificate's common name"
	case strings.HasPrefix(name, "pkcs11-"):
		return "hardware tokens are not supported; use a profile with the key inline"
	}
	return notOnList
}

// fileInlineTags are the tags whose file may be inlined.
var fileInlineTags = map[string]bool{
	"ca": true, "cert": true, "key": true, "extra-certs": true, "pkcs12": true,
	"dh": true, "tls-auth": true, "tls-crypt": true, "tls-crypt-v2": true,
	"crl-verify": true, "auth-user-pass": true, "http-proxy-user-pass": true,
	"peer-fingerprint": true, "connection": true,
}

// connectionAllowed are the directives openvpn accepts inside <connection>.
var connectionAllowed = map[string]bool{
	"remote": true, "proto": true, "port": true, "rport": true, "lport": true,
	"bind": true, "local": true, "nobind": true, "float": true,
	"connect-retry": true, "connect-retry-max": true, "connect-timeout": true,
	"server-poll-timeout": true, "explicit-exit-notify": true, "http-proxy": true,
	"http-proxy-option": true, "socks-proxy": true, "tun-mtu": true,
	"tun-mtu-extra": true, "link-mtu": true, "mssfix": true, "fragment": true,
	"remote-random-hostname": true,
}
