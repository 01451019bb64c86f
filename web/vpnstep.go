package web

import (
	"strings"
	"time"

	"edgebox/api/vpnapi"
)

// The wizard's VPN step shows the tunnel as netctl has it: its state and
// openvpn's reason for it (detail), and the notes of the profile import:
// what the box changed in the profile (lines dropped, options converted
// for openvpn 2.6) and what openvpn warned about (a deprecated cipher).
// Without them an installer cannot tell why a profile that "uploaded
// fine" behaves differently from the one on the laptop.

type vpnStepView struct {
	Unavailable string
	State       string // English, for the pill's colour; the page translates it
	Detail      string // openvpn's reason, as it said it
	Profile     string
	Imported    string
	LastError   string
	DNS         string // the DNS the server pushed and how the box uses it
	Notes       []string
}

func vpnStep(lang string, st Status) *vpnStepView {
	v := st.VPN
	if v == nil {
		return &vpnStepView{Unavailable: tr(lang, "VPN service not available.")}
	}
	out := &vpnStepView{State: strings.ToLower(strings.ReplaceAll(v.State, "_", " ")), Detail: trMessage(lang, v.Detail), LastError: trMessage(lang, v.LastError)}
	if v.DNS != nil {
		// The installer checks here that the company's names will
		// resolve (the PBX by name) before leaving the site.
		out.DNS = vpnDNSWords(lang, v.DNS)
	}
	if p := v.Profile; p != nil {
		out.Profile = p.Name
		if !p.ImportedAt.IsZero() {
			out.Imported = p.ImportedAt.Local().Format(time.DateTime)
		}
		out.Notes = trMessages(lang, p.Notes)
	}
	return out
}

// uploadNotes is the sentence after an upload that lists the import's
// notes, "" without any.
func uploadNotes(lang string, notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return trf(lang, "The box changed or noted this in the profile: %s.", strings.Join(trMessages(lang, notes), "; "))
}

// trMessages is each of msgs in lang (netctl's words, where the catalog
// has them).
func trMessages(lang string, msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = trMessage(lang, m)
	}
	return out
}

// vpnDNSWords says how the box uses the DNS the VPN pushed.
func vpnDNSWords(lang string, d *vpnapi.DNS) string {
	servers := strings.Join(d.Servers, ", ")
	switch d.Use {
	case vpnapi.DNSSplit:
		w := trf(lang, "names in %s are asked of %s", strings.Join(d.Domains, ", "), servers)
		if len(d.Search) > 0 {
			w += "; " + trf(lang, "the box also tries short names in %s", strings.Join(d.Search, ", "))
		}
		return w
	case vpnapi.DNSAll:
		return trf(lang, "every name is asked of %s", servers)
	}
	return trf(lang, "%s not used: %s", servers, trMessage(lang, d.Note))
}
