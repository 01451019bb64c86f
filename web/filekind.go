package web

import (
	"bytes"
	"errors"
	"strings"

	"edgebox/internal/lazyregexp"
	"edgebox/internal/update"
)

// The wrong file in the right form is the most common upload mistake: a
// VPN profile chosen as firmware, the firmware as a VPN profile, a
// WireGuard config or the PDF of the instructions as either, a half
// downloaded bundle. "This is not a …" alone leaves the installer to guess
// what they chose; these say what the file is, where it belongs, and what
// to choose instead.

// fileKind names what head (the start of an uploaded file) is: bundle,
// openvpn, wireguard, zip, gzip, pdf, image, office, json or "".
func fileKind(head []byte) string {
	t := bytes.TrimLeft(head, "\xef\xbb\xbf \t\r\n")
	switch {
	case bytes.HasPrefix(t, []byte(update.Magic)):
		return "bundle"
	case bytes.HasPrefix(t, []byte("PK\x03\x04")):
		if bytes.Contains(head, []byte("word/")) || bytes.Contains(head, []byte("xl/")) {
			return "office"
		}
		return "zip"
	case bytes.HasPrefix(t, []byte("\x1f\x8b")):
		return "gzip"
	case bytes.HasPrefix(t, []byte("%PDF")):
		return "pdf"
	case bytes.HasPrefix(t, []byte("\x89PNG")), bytes.HasPrefix(t, []byte("\xff\xd8\xff")), bytes.HasPrefix(t, []byte("GIF8")):
		return "image"
	case bytes.HasPrefix(t, []byte("{")):
		return "json"
	}
	s := string(head)
	if strings.Contains(s, "[Interface]") && (strings.Contains(s, "PrivateKey") || strings.Contains(s, "[Peer]")) {
		return "wireguard"
	}
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "remote" || f[0] == "client" || f[0] == "<ca>" || f[0] == "dev" && len(f) > 1 && strings.HasPrefix(f[1], "tun")) {
			return "openvpn"
		}
	}
	return ""
}

// notFirmware says what a file chosen as firmware is instead.
func notFirmware(kind string) error {
	switch kind {
	case "openvpn":
		return errors.New("this is an OpenVPN profile, not firmware: upload it under Setup → VPN; here choose the .bundle file of the release")
	case "wireguard":
		return errors.New("this is a WireGuard configuration, not firmware: choose the .bundle file of the release")
	case "zip", "gzip":
		return errors.New("this is a compressed archive, not the firmware itself: unpack it on your computer and choose the .bundle file inside")
	case "pdf", "office", "image":
		return errors.New("this is a document or a picture, not firmware: choose the .bundle file of the release")
	case "json":
		return errors.New("this is a settings backup, not firmware: restore it under Admin → Backup; here choose the .bundle file of the release")
	}
	return errors.New("this is not an edgebox firmware update: choose the .bundle file of the release")
}

// notProfile says what a file chosen as a VPN profile is instead, or nil
// when it may be one (netctl's import judges it fully).
func notProfile(kind string) error {
	switch kind {
	case "bundle":
		return errors.New("this is a firmware update, not a VPN profile: install it under Admin → Firmware update; here choose the .ovpn file from your company")
	case "wireguard":
		return errors.New("this is a WireGuard configuration, not an OpenVPN profile: the box connects with OpenVPN only; ask your company for the .ovpn file")
	case "pdf", "office", "image":
		return errors.New("this is a document or a picture, not a VPN profile: choose the .ovpn file from your company")
	case "json":
		return errors.New("this is a settings backup, not a VPN profile: restore it under Admin → Backup; here choose the .ovpn file from your company")
	}
	return nil
}

// installWords puts what init says about a refused bundle into what
// happened and what to do: "bundle truncated at chunk 3 of 470 (300000
// bytes read): unexpected EOF; slot B was not armed" is a download cut
// short.
func installWords(err error) error {
	s := err.Error()
	switch {
	case strings.Contains(s, "truncated") || strings.Contains(s, "unexpected EOF"):
		return errors.New("the file is incomplete (its download was cut off): download it again and upload the whole file; nothing was changed on the box")
	case strings.Contains(s, "does not match its signed hash") || strings.Contains(s, "data after its last chunk") || strings.Contains(s, "altered"):
		return errors.New("the file is damaged: download it again and upload it; nothing was changed on the box")
	case strings.Contains(s, "not signed") || strings.Contains(s, "signature") || strings.Contains(s, "unknown key"):
		return errors.New("the file is not signed with a key this box trusts: use only the release from the vendor; nothing was changed on the box")
	}
	return err
}

// lineRefused is netctl's "FILE line N: "TEXT" refused: REASON".
var lineRefused = lazyregexp.New(`^(.+) line (\d+): (".*") refused: (.+)$`)

// profileWords adds to the VPN manager's refusal of a profile what to do
// about it, in lang, and keeps a long list of refused lines short enough
// to read on a phone: a WireGuard file or a Windows folder export
// produced a dozen "refused" lines and no advice.
func profileWords(lang, msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	if len(lines) > 4 {
		lines = append(lines[:3], trf(lang, "… and %d more lines like these.", len(lines)-3))
	}
	for i, l := range lines {
		// A refused line: its reason is looked up on its own, so each of
		// netctl's reasons needs one catalog entry, not one per line.
		if m := lineRefused.FindStringSubmatch(l); m != nil {
			lines[i] = trf(lang, "%s line %s: %s refused: %s", m[1], m[2], m[3], trMessage(lang, m[4]))
			continue
		}
		lines[i] = trMessage(lang, l) // netctl's words, in the page's language where the catalog has them
	}
	out := strings.Join(lines, "\n")
	var advice string
	switch {
	case strings.Contains(msg, "is larger than") && strings.Contains(msg, "MiB"),
		strings.Contains(msg, "one-time code"), strings.Contains(msg, "VPN servers (remote lines)"):
		return out // it says what to choose or ask for instead
	case strings.Contains(msg, "is not in the uploaded archive") || strings.Contains(msg, "You must define CA file") ||
		strings.Contains(msg, "You must define certificate file") || strings.Contains(msg, "holds no PEM"):
		advice = "The profile names certificate or key files that did not come with it: put the .ovpn and all its files (ca.crt, client.crt, client.key …) in one .zip and upload that, or ask your company for a profile with the certificates inline."
	case strings.Contains(msg, "not on the list of directives"):
		advice = "Lines the box does not accept: ask your company for a standard OpenVPN client profile (.ovpn), or remove those lines."
	case strings.Contains(msg, "not a text file"):
		advice = "Choose the .ovpn file itself, or a .zip of the folder it came in."
	default:
		advice = "Check that it is the OpenVPN profile your company gave for this box; if it is, send them this message."
	}
	return out + "\n" + tr(lang, advice)
}
