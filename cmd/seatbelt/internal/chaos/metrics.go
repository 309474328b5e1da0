package chaos

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runner's Prometheus series:
//
//	seatbelt_chaos_actions_total{outcome}          moments by Result
//	seatbelt_chaos_last_action_timestamp_seconds   last moment that was not skipped
//	seatbelt_chaos_next_action_timestamp_seconds   next scheduled moment
type Metrics struct {
	actions *prometheus.CounterVec
	last    prometheus.Gauge
	next    prometheus.Gauge
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatbelt_chaos_actions_total",
			Help: "Scheduled chaos moments by outcome (dry_run, success, failed, verify_failed, skipped).",
		}, []string{"outcome"}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seatbelt_chaos_last_action_timestamp_seconds",
			Help: "Unix time of the last chaos action that was not skipped (0 if none).",
		}),
		next: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "seatbelt_chaos_next_action_timestamp_seconds",
			Help: "Unix time of the next scheduled chaos moment.",
		}),
	}
	for _, c := range []prometheus.Collector{m.actions, m.last, m.next} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range Results {
		m.actions.WithLabelValues(string(r))
	}
	return m, nil
}

func (m *Metrics) init(st State) {
	if !st.LastAction.IsZero() {
		m.last.Set(float64(st.LastAction.UnixMilli()) / 1e3)
	}
}

func (m *Metrics) observe(o Outcome) {
	m.actions.WithLabelValues(string(o.Result)).Inc()
	if o.Result != ResultSkipped {
		m.last.Set(float64(o.Time.UnixMilli()) / 1e3)
	}
}
