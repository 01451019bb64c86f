package web

import (
	"strings"
	"unicode"
)

// The same care as tidy.go for what is typed outside the config: a user
// name a phone keyboard capitalised, a reset code read off a console and
// typed in lower case or without its dash, a phone number written in
// groups. Each was refused, and the refused login or reset code counted
// as a failed try towards the lockout.

// tidyUser is the account name as typed: " Admin" is admin.
func tidyUser(s string) string {
	s = strings.TrimFunc(s, isSpaceLike)
	if strings.EqualFold(s, AdminUser) {
		return AdminUser
	}
	return s
}

// tidyResetCode is a reset code as the box prints it: upper case, the
// dash after five characters, whatever spaces or dashes were typed.
func tidyResetCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r == '-' || isSpaceLike(r) {
			continue
		}
		b.WriteRune(r)
	}
	c := b.String()
	if len(c) == 10 {
		return c[:5] + "-" + c[5:]
	}
	return c
}

// tidyPhone is a phone number without the spaces, dashes, dots, slashes
// and brackets people write in it: "+49 (0)151 / 123-45 67" is
// +491511234567 (the "(0)" of a number with its country code is dropped,
// as dialling does).
func tidyPhone(s string) string {
	s = strings.ReplaceAll(strings.TrimFunc(s, isSpaceLike), "(0)", "")
	return strings.Map(func(r rune) rune {
		if isSpaceLike(r) || strings.ContainsRune("-./()", r) || unicode.Is(unicode.Dash, r) {
			return -1
		}
		return r
	}, s)
}
