package web

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// boxCollector turns the box's status into metrics at scrape time, so
// the numbers are never older than the scrape.
type boxCollector struct {
	s *Server

	up, uptime, svcUp, svcRestarts, uplinkActive, uplinkHealthy, rx, tx, signal, modemConnected *prometheus.Desc
}

func newBoxCollector(s *Server) *boxCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("edgebox_"+name, help, labels, nil)
	}
	return &boxCollector{
		s:              s,
		up:             d("component_up", "1 when the component answered its status API.", "component"),
		uptime:         d("uptime_seconds", "Seconds since the box booted."),
		svcUp:          d("service_running", "1 when the supervised service is running.", "service", "state"),
		svcRestarts:    d("service_restarts_total", "Restarts of the supervised service since boot.", "service"),
		uplinkActive:   d("uplink_active", "1 for the uplink that carries the default route.", "uplink"),
		uplinkHealthy:  d("uplink_healthy", "1 when the uplink's health probes succeed.", "uplink"),
		rx:             d("uplink_receive_bytes_total", "Bytes received on the uplink.", "uplink"),
		tx:             d("uplink_transmit_bytes_total", "Bytes sent on the uplink.", "uplink"),
		signal:         d("modem_signal_dbm", "Modem received signal power in dBm."),
		modemConnected: d("modem_connected", "1 when the modem's data connection is up."),
	}
}

func (c *boxCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *boxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	st := c.s.status(ctx)
	for _, comp := range []string{"init", "netctl", "vpn", "gateway"} {
		_, down := st.Unavailable[comp]
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, b2f(!down), comp)
	}
	if sys := st.System; sys != nil {
		ch <- prometheus.MustNewConstMetric(c.uptime, prometheus.GaugeValue, sys.UptimeSec)
		for _, sv := range sys.Services {
			ch <- prometheus.MustNewConstMetric(c.svcUp, prometheus.GaugeValue, b2f(sv.State == "running"), sv.Name, sv.State)
			ch <- prometheus.MustNewConstMetric(c.svcRestarts, prometheus.CounterValue, float64(sv.Restarts), sv.Name)
		}
	}
	if n := st.Network; n != nil {
		for _, u := range n.Uplinks {
			ch <- prometheus.MustNewConstMetric(c.uplinkActive, prometheus.GaugeValue, b2f(u.Active), u.Name)
			ch <- prometheus.MustNewConstMetric(c.uplinkHealthy, prometheus.GaugeValue, b2f(u.Health.Healthy), u.Name)
			ch <- prometheus.MustNewConstMetric(c.rx, prometheus.CounterValue, float64(u.RxBytes), u.Name)
			ch <- prometheus.MustNewConstMetric(c.tx, prometheus.CounterValue, float64(u.TxBytes), u.Name)
		}
		if m := n.Modem; m != nil {
			if v, ok := signalOf(m.Signal); ok {
				ch <- prometheus.MustNewConstMetric(c.signal, prometheus.GaugeValue, v)
			}
			ch <- prometheus.MustNewConstMetric(c.modemConnected, prometheus.GaugeValue, b2f(m.State == netapi.ModemConnected))
		}
	}
	collectFleet(ch, st)
	collectTokens(ch, c.s.accounts.Tokens())
}

// webMetrics are the web service's own counters.
type webMetrics struct {
	logins  *prometheus.CounterVec
	refused prometheus.Counter
	guard   *prometheus.CounterVec
}

func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newBoxCollector(s), s.metrics.logins, s.metrics.refused, s.metrics.guard)
	own := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The gateway serves its call metrics (tokens, calls, packets) only
		// on its socket; admins scrape one /metrics, so append them.
		var gw bytes.Buffer
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		gwErr := gatewayapi.NewClient().Metrics(ctx, &gw)
		// Plain, uncompressed text only: a negotiated protobuf or gzip
		// answer could not be joined with the gateway's text.
		r2 := r.Clone(r.Context())
		r2.Header.Del("Accept")
		r2.Header.Del("Accept-Encoding")
		own.ServeHTTP(w, r2)
		if gwErr == nil {
			w.Write(gw.Bytes())
		}
	})
}

func newWebMetrics() webMetrics {
	return webMetrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgebox_web_logins_total", Help: "Admin password checks by result (ok, failed, locked).",
		}, []string{"result"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edgebox_web_refused_connections_total", Help: "Connections closed because they did not arrive on a LAN or VPN interface.",
		}),
		guard: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgebox_web_refused_requests_total", Help: "Requests refused for a foreign Host, a cross-site origin or a wrong content type, by answer.",
		}, []string{"status"}),
	}
}
