package web

import (
	"strings"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// absentGrace is how long a modem may be missing before the step says so
// as a failure: a card enumerates its USB functions one by one, and netctl
// waits up to 45 s for its network interface after boot.
const absentGrace = 60 * time.Second

// modemCheck is the mobile step's result from netctl's modem report, once
// the step's own settings are known to be in place. Its order matters: a
// modem that registered but cannot get data must show why (the APN
// refused), not "connecting…" for ever; an error about an APN that has
// since been replaced must not stand for the new one.
func modemCheck(lang string, m *netapi.ModemStatus, cfg *config.Config, now time.Time) Check {
	mv := modemPanel(m)
	apn := ""
	if cfg != nil {
		apn = strings.TrimSpace(cfg.Network.Modem.APN)
	}
	errText := mv.Error
	if errText != "" && apn != "" && staleAPNError(errText, apn) {
		errText = "" // about the APN saved before; the modem is trying the new one
	}
	switch {
	case mv.State == netapi.ModemAbsent:
		since := m.ErrorTime
		if since.IsZero() {
			since = m.Since
		}
		if errText != "" && !since.IsZero() && now.Sub(since) >= absentGrace {
			return Check{"fail", tr(lang, "No modem found: if this box has a mobile modem, power it off and check that the card sits firmly in its slot and its antenna is on; if it has none, untick “Use the mobile modem” and save.")}
		}
		return Check{"wait", tr(lang, "Looking for the modem…")}
	case errText != "" && needsInstaller(mv.State):
		// A wrong PIN, a locked SIM, a modem without its network
		// port: nothing changes by waiting, so no spinner.
		return Check{"fail", trMessage(lang, errText)}
	case mv.SIM == "pin-required":
		return Check{"fail", tr(lang, "The SIM needs its PIN: enter it above.")}
	case mv.SIM == "absent":
		return Check{"fail", tr(lang, "No SIM card found: insert one with the box powered off.")}
	case mv.Registration == "denied":
		return Check{"fail", tr(lang, "The network denied the SIM: check the contract with the operator.")}
	case mv.State == netapi.ModemConnected:
		return Check{"ok", trf(lang, "Modem connected on %s (%s), signal %s.", orDash(mv.Operator), orDash(mv.Tech), orDash(mv.SignalDBm))}
	case errText != "" && strings.Contains(errText, "roaming is denied"):
		// network.modem.roaming: deny on a roaming card: a setting,
		// not something waiting changes.
		return Check{"fail", trMessage(lang, errText)}
	case errText != "" && strings.Contains(errText, "refused the data connection"):
		// Registered, but the network refuses data on this APN: the
		// installer must change the APN or the plan; waiting does not.
		return Check{"fail", trMessage(lang, errText)}
	case errText != "" && (mv.Registration == "home" || mv.Registration == "roaming"):
		return Check{"wait", trf(lang, "Registered on %s, but no data connection yet: %s", orDash(mv.Operator), trMessage(lang, errText))}
	case mv.Registration == "home" || mv.Registration == "roaming":
		return Check{"wait", trf(lang, "Registered on %s, connecting…", orDash(mv.Operator))}
	case errText != "":
		return Check{"wait", trf(lang, "Modem: %s — %s", tr(lang, mv.State), trMessage(lang, errText))}
	}
	return Check{"wait", trf(lang, "Modem: %s…", tr(lang, orDash(mv.State)))}
}

// staleAPNError reports whether a data-connection error names an APN
// other than the one now saved: netctl keeps an error until the modem
// connects, so right after a corrected APN is saved the old APN's refusal
// is still in its report.
func staleAPNError(msg, apn string) bool {
	i := strings.Index(msg, `APN "`)
	if i < 0 {
		return false
	}
	named, _, ok := strings.Cut(msg[i+len(`APN "`):], `"`)
	return ok && !strings.EqualFold(named, apn)
}
