package api_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The clients of the services import only the leaf API packages and
// internal/*: PID 1 stays small, and web and edgectl do not link pion,
// sipgo, the AT engine or netctl.
var clients = []struct {
	pkg  string
	also []string // forbidden to this client on top of forbidden
}{
	{"./init", nil},
	{"./web", nil},
	// edgectl reads web's REST API through api/webapi, without web.
	{"./cmd/edgectl", []string{"edgebox/web"}},
}

// forbidden are the server packages and their heavy dependencies, as
// import path prefixes.
var forbidden = []string{
	"edgebox/gateway",
	"edgebox/netctl",
	"edgebox/modem",
	"github.com/pion/",
	"github.com/emiago/sipgo",
}

// leafAllowed are the only edgebox packages a leaf API package may use.
// internal/sysapi is init's leaf API package (webapi's status holds its
// System).
var leafAllowed = []string{"edgebox/api/", "edgebox/internal/localapi", "edgebox/internal/sysapi"}

// deps runs go list -deps (without test files) in the module's root.
func deps(t *testing.T, pkgs ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", pkgs, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", pkgs, err)
	}
	m := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		p, imps, _ := strings.Cut(strings.TrimSpace(line), ":")
		m[p] = strings.Fields(imps)
	}
	return m
}

// matches reports whether path is one of prefixes or below it.
func matches(path string, prefixes []string) bool {
	for _, f := range prefixes {
		if path == strings.TrimSuffix(f, "/") || strings.HasPrefix(path, strings.TrimSuffix(f, "/")+"/") {
			return true
		}
	}
	return false
}

// importer names an edgebox package of the graph, itself allowed (not in
// bad), that imports p: where a forbidden dependency comes in.
func importer(g map[string][]string, p string, bad []string) string {
	for q, imps := range g {
		if strings.HasPrefix(q, "edgebox/") && !matches(q, bad) {
			for _, i := range imps {
				if i == p {
					return q
				}
			}
		}
	}
	return "?"
}

func TestClientsLinkNoServer(t *testing.T) {
	for _, c := range clients {
		t.Run(strings.TrimPrefix(c.pkg, "./"), func(t *testing.T) {
			g := deps(t, c.pkg)
			no := append(append([]string{}, forbidden...), c.also...)
			var bad []string
			for p := range g {
				if !matches(p, no) {
					continue
				}
				bad = append(bad, p)
				if q := importer(g, p, no); q != "?" {
					t.Errorf("%s imports %s", q, p)
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s depends on %d forbidden packages (%s), e.g. %s: import the leaf packages under api/ instead", c.pkg, len(bad), strings.Join(no, ", "), bad[0])
			}
		})
	}
}

func TestLeavesAreLeaves(t *testing.T) {
	g := deps(t, "./api/...")
	for p, imps := range g {
		if !strings.HasPrefix(p, "edgebox/api/") {
			continue
		}
		for _, i := range imps {
			if strings.Contains(strings.SplitN(i, "/", 2)[0], ".") && !strings.HasPrefix(i, "edgebox/") {
				t.Errorf("%s imports %s: a leaf API package uses only the standard library and internal/localapi", p, i)
			}
			if strings.HasPrefix(i, "edgebox/") && !matches(i, leafAllowed) {
				t.Errorf("%s imports %s: a leaf API package uses only the standard library and internal/localapi", p, i)
			}
		}
	}
}
