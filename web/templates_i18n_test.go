package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every word a template shows goes through T: text written straight into
// the HTML stays English on a German page (the exposure warning did).
// Names that are the same in every language are allowed.
func TestTemplatesHaveNoBareText(t *testing.T) {
	files, _ := filepath.Glob("ui/templates/*.html")
	if len(files) < 8 {
		t.Fatalf("found %d templates", len(files))
	}
	action := regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	// Commands in <code> read the same in every language.
	tag := regexp.MustCompile(`(?s)<(script|style|code)\b.*?</(script|style|code)>|<[^>]*>`)
	word := regexp.MustCompile(`[A-Za-z][a-z]{3,}`)
	same := map[string]bool{"edgebox": true, "Deutsch": true, "English": true, "admin": true, "ping": true}
	for _, f := range files {
		if strings.Contains(f, "gsm") { // the GSM pages have their own owner
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := tag.ReplaceAllString(action.ReplaceAllString(string(b), " "), " ")
		for _, line := range strings.Split(text, "\n") {
			for _, w := range word.FindAllString(line, -1) {
				if !same[w] {
					t.Errorf("%s: %q is shown without T: %q", filepath.Base(f), w, strings.TrimSpace(line))
					break
				}
			}
		}
	}
}
