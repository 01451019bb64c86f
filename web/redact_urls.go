package web

import (
	"net/url"
	"strings"

	"edgebox/internal/lazyregexp"
)

// redact (configdoc.go) knows secrets by the name of their field. Some
// secrets are known by their value: a webhook URL carries its key in the
// path (chat and CRM hooks: .../services/T0/B0/XXXX) or as user:password,
// and any URL with a password in it is one. redactURLs replaces those
// whole, with Redacted, so sending the document back keeps them
// (unredact, config/set) like any other secret. Third review: a read
// token read them in GET /api/v1/config, and they sat in the readable
// part of backups and in support bundles.
func redactURLs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s != "" && s != Redacted && secretURL(k, s) {
				x[k] = Redacted
				continue
			}
			x[k] = redactURLs(e)
		}
	case []any:
		for i := range x {
			x[i] = redactURLs(x[i])
		}
	}
	return v
}

// secretURL says whether the value of field key is a secret URL: a
// webhook's, or one with a password in it.
func secretURL(key, s string) bool {
	if strings.Contains(strings.ToLower(key), "webhook") {
		return true
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return false
	}
	_, hasPass := u.User.Password()
	return hasPass
}

// redactAll is what the admin's API output shows of a config document.
func redactAll(doc any) any { return redactURLs(redact(doc)) }

// secretHashKey names the fields that hold a hash of a secret (a portal
// key's unsalted sha256): not the secret, but an offline guess for a
// short one. Whatever a field like it is called, it says so.
var secretHashKey = lazyregexp.New(`(?i)(sha256|sha1|hash|digest)`)

// redactView is the one rule for what a config document shows: secrets
// (by name and by value) to no one; hashes of secrets to the admin only,
// who manages them. Below admin (read and operate tokens: monitoring,
// fleet dashboards) and in files that leave the box readable (a backup's
// readable part, support bundles) they are Redacted too. Sixth review: a
// read token read the portal keys' hashes in GET /api/v1/config.
func redactView(doc any, admin bool) any {
	redactAll(doc)
	if !admin {
		redactKeys(doc, secretHashKey)
	}
	return doc
}
