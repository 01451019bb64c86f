package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, on a registry of its own so
// tests and several services in one binary never collide.
type metrics struct {
	reg            *prometheus.Registry
	tokensIssued   prometheus.Counter
	tokenRefusals  *prometheus.CounterVec
	portalRefusals *prometheus.CounterVec
	callsTotal     *prometheus.CounterVec
	sipDrops       *prometheus.CounterVec
	sipRefused     prometheus.Counter
	registered     prometheus.Gauge
}

func newMetrics(svc *Service) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.tokensIssued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgebox_gateway_tokens_issued_total", Help: "Call tokens issued to the portal."})
	m.tokenRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgebox_gateway_token_refusals_total", Help: "Signaling sessions refused, by reason."}, []string{"reason"})
	m.portalRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgebox_gateway_portal_refusals_total", Help: "Portal API requests refused, by reason."}, []string{"reason"})
	m.callsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgebox_gateway_calls_total", Help: "Calls ended, by outcome."}, []string{"outcome"})
	m.sipDrops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgebox_gateway_sip_dropped_total", Help: "SIP messages dropped unanswered, by reason."}, []string{"reason"})
	m.sipRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgebox_gateway_sip_refused_total", Help: "SIP requests refused (403) because they did not come from the PBX."})
	m.registered = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "edgebox_gateway_trunk_registered", Help: "1 while the trunk registration at the PBX is valid."})
	m.reg.MustRegister(m.tokensIssued, m.tokenRefusals, m.portalRefusals, m.callsTotal, m.sipDrops, m.sipRefused, m.registered,
		&callCollector{svc: svc})
	for _, r := range []string{"unknown", "expired", "mismatch", "rate_limited", "malformed"} {
		m.tokenRefusals.WithLabelValues(r)
	}
	// Every outcome exists from the start, so a fleet's rate() and
	// increase() see the first failed call (monitoring/alerts.yml).
	for _, o := range []string{"answered", "abandoned", "busy", "failed"} {
		m.callsTotal.WithLabelValues(o)
	}
	return m
}

func (m *metrics) sipDropped(reason string) { m.sipDrops.WithLabelValues(reason).Inc() }

// callCollector reports the calls in progress at scrape time.
type callCollector struct{ svc *Service }

var (
	descActive   = prometheus.NewDesc("edgebox_gateway_calls_active", "Calls in progress.", nil, nil)
	descPackets  = prometheus.NewDesc("edgebox_gateway_call_packets", "RTP packets of a call in progress.", []string{"call", "leg", "direction"}, nil)
	descBytes    = prometheus.NewDesc("edgebox_gateway_call_bytes", "RTP bytes of a call in progress.", []string{"call", "leg", "direction"}, nil)
	descLost     = prometheus.NewDesc("edgebox_gateway_call_lost_packets", "RTP packets lost toward the box.", []string{"call", "leg"}, nil)
	descJitter   = prometheus.NewDesc("edgebox_gateway_call_jitter_seconds", "Interarrival jitter toward the box.", []string{"call", "leg"}, nil)
	descFast     = prometheus.NewDesc("edgebox_gateway_media_fast_packets_total", "Browser audio packets carried outside pion (both directions).", nil, nil)
	descRejected = prometheus.NewDesc("edgebox_gateway_media_rejected_packets_total", "Browser audio packets dropped failing SRTP authentication or replay checks.", nil, nil)
	descDuration = prometheus.NewDesc("edgebox_gateway_call_duration_seconds", "Talk time of a call in progress.", []string{"call", "codec"}, nil)
)

func (c *callCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActive, descPackets, descBytes, descLost, descJitter, descDuration, descFast, descRejected} {
		ch <- d
	}
}

func (c *callCollector) Collect(ch chan<- prometheus.Metric) {
	calls := c.svc.activeCalls()
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(len(calls)))
	st := c.svc.Status()
	ch <- prometheus.MustNewConstMetric(descFast, prometheus.CounterValue, float64(st.FastPackets))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(st.RejectedPackets))
	for _, ci := range calls {
		for _, leg := range []struct {
			name string
			l    LegInfo
		}{{"browser", ci.Browser}, {"pbx", ci.PBX}} {
			ch <- prometheus.MustNewConstMetric(descPackets, prometheus.GaugeValue, float64(leg.l.In.Packets), ci.ID, leg.name, "in")
			ch <- prometheus.MustNewConstMetric(descPackets, prometheus.GaugeValue, float64(leg.l.Out.Packets), ci.ID, leg.name, "out")
			ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(leg.l.In.Bytes), ci.ID, leg.name, "in")
			ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(leg.l.Out.Bytes), ci.ID, leg.name, "out")
			ch <- prometheus.MustNewConstMetric(descLost, prometheus.GaugeValue, float64(leg.l.In.Lost), ci.ID, leg.name)
			ch <- prometheus.MustNewConstMetric(descJitter, prometheus.GaugeValue, leg.l.In.JitterMS/1000, ci.ID, leg.name)
		}
		ch <- prometheus.MustNewConstMetric(descDuration, prometheus.GaugeValue, ci.DurationSec, ci.ID, ci.Codec)
	}
}
