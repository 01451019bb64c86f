// Package monitoring holds what a fleet's Prometheus and Grafana need to
// watch edgebox boxes: alerting rules (alerts.yml, with promtool unit tests
// in alerts_test.yml), an example Prometheus config with file-based
// service discovery (prometheus.yml) and a Grafana dashboard
// (dashboard.json). There is no Go code to ship; the tests check the
// files against Debian's promtool and prometheus and a rig of real boxes.
package monitoring
