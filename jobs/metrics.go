package jobs

import (
	"github.com/prometheus/client_golang/prometheus"
)

// States lists every job state.
var States = []string{"available", "running", "succeeded", "failed", "cancelled", "cleaned"}

type collector struct {
	jobs          *prometheus.GaugeVec
	stageDuration *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	rescued       prometheus.Counter
	queueLatency  *prometheus.HistogramVec
}

func newCollector() *collector {
	return &collector{
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "seatbelt_jobs_jobs",
			Help: "Jobs by state; reported by the leader only, so a sum over pods is right.",
		}, []string{"state"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seatbelt_jobs_stage_duration_seconds",
			Help:    "Time a stage's Run took, by outcome (succeeded, failed, released, cancelled, lease_lost, rejected).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind", "stage", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seatbelt_jobs_retries_total",
			Help: "Stage attempts that failed and were scheduled again.",
		}, []string{"kind", "stage"}),
		rescued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "seatbelt_jobs_rescued_total",
			Help: "Stages made available again because their worker's lease expired (counted by the leader).",
		}),
		queueLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seatbelt_jobs_queue_latency_seconds",
			Help:    "Time from a job's run-at to the claim of its first stage.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"kind"}),
	}
}

func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	m.jobs.Describe(ch)
	m.stageDuration.Describe(ch)
	m.retries.Describe(ch)
	m.rescued.Describe(ch)
	m.queueLatency.Describe(ch)
}

func (m *collector) Collect(ch chan<- prometheus.Metric) {
	m.jobs.Collect(ch)
	m.stageDuration.Collect(ch)
	m.retries.Collect(ch)
	m.rescued.Collect(ch)
	m.queueLatency.Collect(ch)
}

func (m *collector) setStates(counts map[string]float64) {
	for _, s := range States {
		m.jobs.WithLabelValues(s).Set(counts[s])
	}
}

func (m *collector) clearGauges() { m.jobs.Reset() }

// Collector returns the client's Prometheus metrics; register it with
// prometheus.MustRegister(client.Collector()). Names:
// seatbelt_jobs_jobs{state}, seatbelt_jobs_stage_duration_seconds{kind,stage,outcome},
// seatbelt_jobs_retries_total{kind,stage}, seatbelt_jobs_rescued_total and
// seatbelt_jobs_queue_latency_seconds{kind}.
func (c *Client) Collector() prometheus.Collector { return c.m }
