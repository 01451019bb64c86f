package monitoring

import (
	"os/exec"
	"strings"
	"testing"
)

// promtool finds Debian's promtool (package prometheus, make deps).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not installed (Debian package prometheus; run make deps): %v", err)
	}
	return p
}

// TestAlertRulesValid runs promtool check rules on the shipped rules: the
// syntax, the PromQL and the templates in the annotations.
func TestAlertRulesValid(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "alerts.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules alerts.yml: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules said:\n%s", out)
	}
}

// TestAlertRulesFire runs promtool test rules: every alert fires on the
// series of a box in trouble, with the labels and words an admin sees,
// and stays quiet on a healthy box.
func TestAlertRulesFire(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", "alerts_test.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules alerts_test.yml: %v\n%s", err, out)
	}
}
