package web

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every text app.js shows goes through t() and has its German: a German
// page once said "Failed (502).", "Upload failed: connection lost." and
// "Not saved (0)." in English, and nothing at all when the box did not
// answer.
func TestScriptTextsTranslated(t *testing.T) {
	b, err := os.ReadFile("ui/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	lit := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	sentence := regexp.MustCompile(`^"[A-Z][a-z]+[ .:…]`)
	for _, loc := range lit.FindAllStringIndex(src, -1) {
		s := src[loc[0]:loc[1]]
		if !sentence.MatchString(s) || strings.HasSuffix(src[:loc[0]], "t(") {
			continue
		}
		line := strings.Count(src[:loc[0]], "\n") + 1
		t.Errorf("app.js:%d: %s is shown without t(), so never in German", line, s)
	}
	if len(jsStrings()) < 20 {
		t.Fatalf("only %d t() texts found in app.js: the pattern no longer matches", len(jsStrings()))
	}
	for _, s := range jsStrings() {
		if tr("de", s) == s {
			t.Errorf("no German for app.js's %q", s)
		}
	}
	if m := jsCatalog("de"); m["Done."] != "Erledigt." {
		t.Errorf("the German page is handed %q for Done.", m["Done."])
	}
}
