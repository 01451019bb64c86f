package gateway

import (
	"strconv"
	"sync"

	"edgebox/api/gatewayapi"

	"github.com/prometheus/client_golang/prometheus"
)

// gsmMetrics are the GSM voice bridge's series, on the gateway's registry:
// calls ended by direction and SIP code, their talk time, and the live
// call's measured clock drift and jitter depth.
type gsmMetrics struct {
	calls *prometheus.CounterVec
	talk  *prometheus.CounterVec
}

// gsmMetricsOf registers them once per Service (the bridge restarts on
// a config change; its series go on).
var gsmMetricsOf sync.Map // *Service -> *gsmMetrics

func (s *Service) gsmMetrics() *gsmMetrics {
	if m, ok := gsmMetricsOf.Load(s); ok {
		return m.(*gsmMetrics)
	}
	m := &gsmMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgebox_gateway_gsm_calls_total", Help: "GSM voice calls ended, by direction (in: to the SIM, out: dialled by the PBX) and final SIP code."}, []string{"direction", "code"}),
		talk: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgebox_gateway_gsm_talk_seconds_total", Help: "Talk time of ended GSM voice calls."}, []string{"direction"}),
	}
	if got, loaded := gsmMetricsOf.LoadOrStore(s, m); loaded {
		return got.(*gsmMetrics)
	}
	s.metrics.reg.MustRegister(m.calls, m.talk, &gsmCollector{svc: s})
	return m
}

// ended counts an ended call.
func (m *gsmMetrics) ended(c gatewayapi.GSMCall) {
	m.calls.WithLabelValues(c.Direction, strconv.Itoa(c.SIPCode)).Inc()
	m.talk.WithLabelValues(c.Direction).Add(c.DurationSec)
}

var (
	descGSMActive = prometheus.NewDesc("edgebox_gateway_gsm_calls_active", "GSM voice calls in progress (0 or 1 per SIM).", nil, nil)
	descGSMDrift  = prometheus.NewDesc("edgebox_gateway_gsm_drift_ppm", "The PBX's RTP clock against the card's, measured by the live call's jitter buffer.", nil, nil)
	descGSMDepth  = prometheus.NewDesc("edgebox_gateway_gsm_jitter_depth_seconds", "The live GSM call's jitter buffer depth toward the card.", nil, nil)
)

// gsmCollector reports the live GSM call at scrape time.
type gsmCollector struct{ svc *Service }

func (g *gsmCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descGSMActive
	ch <- descGSMDrift
	ch <- descGSMDepth
}

func (g *gsmCollector) Collect(ch chan<- prometheus.Metric) {
	v := g.svc.gsmVoice()
	var calls gatewayapi.GSMCalls
	if v != nil {
		calls = v.calls()
	}
	ch <- prometheus.MustNewConstMetric(descGSMActive, prometheus.GaugeValue, float64(len(calls.Active)))
	for _, c := range calls.Active {
		if c.Audio != nil {
			ch <- prometheus.MustNewConstMetric(descGSMDrift, prometheus.GaugeValue, c.Audio.DriftPPM)
			ch <- prometheus.MustNewConstMetric(descGSMDepth, prometheus.GaugeValue, c.Audio.DepthMS/1000)
		}
	}
}
