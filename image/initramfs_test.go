package image

import (
	"strings"
	"testing"
)

func TestRenameImportsOnlyTouchesOwnImports(t *testing.T) {
	src := `package x

import (
	"fmt"
	"edgebox/internal/config"
	cfg2 "edgebox/boards"
	"edgeboxer/other"
)

var s = "edgebox/internal/config is a string, not an import"

func f() { fmt.Println(config.Default, cfg2.Profiles, s) }
`
	out, err := renameImports("x.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{`"edgebox.build/edgebox/internal/config"`, `cfg2 "edgebox.build/edgebox/boards"`,
		`"edgeboxer/other"`, `"fmt"`, `var s = "edgebox/internal/config is a string`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in:\n%s", want, got)
		}
	}
	if _, err := renameImports("bad.go", []byte("package")); err == nil {
		t.Error("broken source accepted")
	}
}
