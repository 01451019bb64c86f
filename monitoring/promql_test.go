package monitoring

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dashboardExprs collects the PromQL of a Grafana dashboard: every
// panel target's "expr", and the metric of every templating variable's
// label_values(metric, label) query.
func dashboardExprs(b []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	var out []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, k)
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		case string:
			if key == "expr" || (key == "query" || key == "definition") && strings.Contains(x, "label_values(") {
				out = append(out, x)
			}
		}
	}
	walk(v, "")
	sort.Strings(out)
	return out, nil
}

var (
	reGrafanaVar  = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	reString      = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	reMatchers    = regexp.MustCompile(`\{[^}]*\}`)
	reRange       = regexp.MustCompile(`\[[^\]]*\]`)
	reGrouping    = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	reLabelValues = regexp.MustCompile(`label_values\(\s*([^,)]*)(?:,[^)]*)?\)`)
	reIdent       = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords  = map[string]bool{"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true,
		"ignoring": true, "group_left": true, "group_right": true, "bool": true, "offset": true, "inf": true, "nan": true}
)

// metricNames returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, grouping labels,
// functions, keywords and numbers are taken out.
func metricNames(expr string) []string {
	e := reGrafanaVar.ReplaceAllString(expr, "")
	e = reString.ReplaceAllString(e, `""`)
	e = reLabelValues.ReplaceAllString(e, "$1")
	e = reMatchers.ReplaceAllString(e, " ")
	e = reRange.ReplaceAllString(e, " ")
	e = reGrouping.ReplaceAllString(e, " ")
	seen := map[string]bool{}
	var out []string
	for _, loc := range reIdent.FindAllStringIndex(e, -1) {
		id := e[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(e[loc[0]-1:loc[0]], "0123456789.") {
			continue // the exponent or unit of a number
		}
		if strings.HasPrefix(strings.TrimLeft(e[loc[1]:], " \t\n"), "(") || promKeywords[strings.ToLower(id)] || seen[id] {
			continue // a function or aggregation, a keyword
		}
		seen[id] = true
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// TestMetricNames checks the PromQL name extraction the rig's dashboard
// check relies on.
func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up{job=~"edgebox.*"} == 0`, []string{"up"}},
		{`sum by (box, outcome) (increase(edgebox_gateway_calls_total{box=~"$box"}[$__rate_interval]))`, []string{"edgebox_gateway_calls_total"}},
		{"(edgebox_uplink_priority and on (job, instance, uplink) (edgebox_uplink_active == 1))\n > on (job, instance) group_left ()\nmin by (job, instance) (edgebox_uplink_priority)", []string{"edgebox_uplink_active", "edgebox_uplink_priority"}},
		{`rate(edgebox_uplink_receive_bytes_total{box=~"${box}"}[5m]) * 8 > 1e3`, []string{"edgebox_uplink_receive_bytes_total"}},
		{`label_values(edgebox_info, box)`, []string{"edgebox_info"}},
		{`count(ALERTS{alertstate="firing", box=~"$box"}) by (box, alertname) or vector(0)`, []string{"ALERTS"}},
		{`histogram_quantile(0.9, sum(rate(x_seconds_bucket{a="b}"}[5m])) without (c)) > bool 0.5`, []string{"x_seconds_bucket"}},
	} {
		if got := metricNames(c.expr); !reflect.DeepEqual(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}
