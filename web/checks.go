package web

import (
	_ "embed"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the box has no /usr/share/zoneinfo: time zones are checked against Go's copy

	"edgebox/internal/config"
)

// zoneNames is the list a wrong time zone gets suggestions from.
//
//go:embed zones.txt
var zoneNames string

// changeChecks are the checks a change must pass beyond config.Validate:
// they read things a stored config must load without (the box's own
// addresses, the time zone database), so they apply to changes only.
// Their messages are in lang.
func changeChecks(lang string, old map[string]any, c *config.Config) []FieldError {
	var errs []FieldError
	if tz := c.System.Timezone; tz != "" && fmt.Sprint(get(old, "system.timezone")) != tz {
		if msg := checkTimezone(lang, tz); msg != "" {
			errs = append(errs, FieldError{Field: "system.timezone", Message: msg})
		}
	}
	if c.Gateway.PBX.Address != "" && fmt.Sprint(get(old, "gateway.pbx.address")) != c.Gateway.PBX.Address {
		if err := c.Gateway.PBXIsTheBox(); err != nil {
			errs = append(errs, FieldError{Field: "gateway.pbx.address", Message: strings.TrimPrefix(err.Error(), "gateway.pbx.address: ")})
		}
	}
	if err := c.VPNLockout(); err != nil {
		// Only a change that makes it so: an old config that already
		// has it does not block unrelated saves.
		if oc, oerr := fromDoc(old); oerr != nil || oc.VPNLockout() == nil {
			errs = append(errs, FieldError{Field: "vpn.interface", Message: trMessage(lang, strings.TrimPrefix(err.Error(), "vpn.interface: "))})
		}
	}
	return errs
}

// checkTimezone says what is wrong with tz and what it may have meant, or
// "" when it is a zone.
func checkTimezone(lang, tz string) string {
	if _, err := time.LoadLocation(tz); err == nil && (tz == "UTC" || strings.Contains(tz, "/")) {
		return ""
	}
	if s := suggestZones(tz, 5); len(s) > 0 {
		return trf(lang, "%q is not a time zone: did you mean %s?", tz, strings.Join(s, ", "))
	}
	return trf(lang, "%q is not a time zone: use Region/City from the tz database, e.g. Europe/Berlin", tz)
}

// suggestZones lists zones whose name contains what was typed (spaces as
// underscores), best matches (the city itself) first.
func suggestZones(typed string, max int) []string {
	q := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(typed), " ", "_"))
	if q == "" {
		return nil
	}
	var exact, part []string
	for _, z := range strings.Split(zoneNames, "\n") {
		if z == "" || z[0] == '#' {
			continue
		}
		lz := strings.ToLower(z)
		city := lz[strings.LastIndex(lz, "/")+1:]
		switch {
		case city == q:
			exact = append(exact, z)
		case strings.Contains(lz, q):
			part = append(part, z)
		}
	}
	out := append(exact, part...)
	if len(out) > max {
		out = out[:max]
	}
	return out
}
