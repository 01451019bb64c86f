package web

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes checks that every path docs/openapi.yaml names
// is served (any answer but "no such API endpoint"), and that every
// /api/v1 route is documented.
func TestOpenAPICoversRoutes(t *testing.T) {
	b, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	e := newTestEnv(t, true, Options{})
	tok := e.bootstrap()
	paths := regexp.MustCompile(`(?m)^  (/[^:]*):$`).FindAllStringSubmatch(doc, -1)
	if len(paths) < 20 {
		t.Fatalf("only %d paths documented", len(paths))
	}
	for _, m := range paths {
		p := regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(m[1], "netctl")
		for _, method := range []string{"GET", "POST"} {
			_, body := e.raw(method, p, "application/json", []byte("{}"), map[string]string{"Authorization": "Bearer " + tok})
			if strings.Contains(body, errNotFound.Error()) {
				t.Errorf("%s %s is documented but not served", method, p)
			}
		}
	}
	src, _ := os.ReadFile("routes.go")
	for _, m := range regexp.MustCompile(`"(?:GET|POST|PUT|DELETE) (/api/v1/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		p := strings.TrimSuffix(m[1], "{path...}") + ""
		p = strings.ReplaceAll(p, "{path...}", "{path}")
		if !strings.Contains(doc, "  "+strings.TrimSuffix(p, "/")+":") && !strings.Contains(doc, "  "+p+"{path}:") {
			t.Errorf("route %s is not in docs/openapi.yaml", m[1])
		}
	}
}
