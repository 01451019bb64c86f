package web

import (
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"os"
	"strings"

	"rsc.io/qr"
)

// homePage is where a logged-in admin starts: the setup wizard on a new
// box (nothing saved yet), else the dashboard.
func (s *Server) homePage() string {
	if _, err := os.Stat(s.opt.ConfigPath); errors.Is(err, fs.ErrNotExist) {
		return "/wizard/" + wizardSteps[0].ID
	}
	return "/dashboard"
}

// shortFingerprint is the first and last two groups of a colon-separated
// fingerprint: enough to compare at a glance on a phone.
func shortFingerprint(fp string) string {
	g := strings.Split(fp, ":")
	if len(g) < 6 {
		return fp
	}
	return strings.Join(g[:2], ":") + " … " + strings.Join(g[len(g)-2:], ":")
}

// qrDataURI is a QR code of text as an inline PNG, so a phone's camera
// opens the secure page without typing the address.
func qrDataURI(text string) template.URL {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return ""
	}
	c.Scale = 6
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(c.PNG()))
}
