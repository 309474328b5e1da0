package jobsprom

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// Collector is a prometheus.Collector of the metrics of the jobs clients
// it observes; set it as their jobs.Config.Observer.
type Collector struct {
	jobs          *prometheus.GaugeVec
	stageDuration *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	rescued       prometheus.Counter
	queueLatency  *prometheus.HistogramVec

	// The per-queue gauges are made at each Collect from the leader's
	// last report rather than kept in GaugeVecs: queues come and go (one
	// whose jobs were all deleted after retention and that was never
	// paused is no longer reported), and a Reset followed by the new
	// values would let a scrape in between see no queue at all. The
	// paused time also grows between two reports.
	queueJobsDesc, queuePausedDesc, queuePausedSecondsDesc *prometheus.Desc

	mu     sync.Mutex
	queues map[string]jobs.QueueStates // nil: not the leader
}

var (
	_ jobs.Observer        = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

// NewCollector returns a Collector with no observations yet.
func NewCollector() *Collector {
	return &Collector{
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "seatbelt_jobs_jobs",
			Help: "Jobs by state; reported by the leader only, so a sum over pods is right.",
		}, []string{"state"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "seatbelt_jobs_stage_duration_seconds",
			Help:    "Time a stage's Run took, by outcome (succeeded, failed, released, cancelled, snoozed, lease_lost, rejected).",
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
		queueJobsDesc: prometheus.NewDesc("seatbelt_jobs_queue_jobs",
			"Jobs by queue and state; reported by the leader only, so a sum over pods is right.",
			[]string{"queue", "state"}, nil),
		queuePausedDesc: prometheus.NewDesc("seatbelt_jobs_queue_paused",
			"1 while the queue is paused (no client claims its jobs), 0 while it runs; reported by the leader only.",
			[]string{"queue"}, nil),
		queuePausedSecondsDesc: prometheus.NewDesc("seatbelt_jobs_queue_paused_seconds",
			"How long the queue has been paused, 0 while it runs; reported by the leader only.",
			[]string{"queue"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.jobs.Describe(ch)
	c.stageDuration.Describe(ch)
	c.retries.Describe(ch)
	c.rescued.Describe(ch)
	c.queueLatency.Describe(ch)
	ch <- c.queueJobsDesc
	ch <- c.queuePausedDesc
	ch <- c.queuePausedSecondsDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.jobs.Collect(ch)
	c.stageDuration.Collect(ch)
	c.retries.Collect(ch)
	c.rescued.Collect(ch)
	c.queueLatency.Collect(ch)
	c.mu.Lock()
	queues := c.queues
	c.mu.Unlock()
	now := time.Now()
	for name, q := range queues {
		for _, s := range jobs.States {
			ch <- prometheus.MustNewConstMetric(c.queueJobsDesc, prometheus.GaugeValue, float64(q.Counts[s]), name, string(s))
		}
		paused, seconds := 0.0, 0.0
		if q.Paused {
			paused = 1
			if q.PausedAt != nil {
				// PausedAt is on the clock of whoever paused the queue;
				// a clock a little ahead of this one must not make the
				// time negative.
				seconds = max(0, now.Sub(*q.PausedAt).Seconds())
			}
		}
		ch <- prometheus.MustNewConstMetric(c.queuePausedDesc, prometheus.GaugeValue, paused, name)
		ch <- prometheus.MustNewConstMetric(c.queuePausedSecondsDesc, prometheus.GaugeValue, seconds, name)
	}
}

// ObserveJobStart implements jobs.Observer.
func (c *Collector) ObserveJobStart(_ context.Context, d jobs.JobStartData) {
	c.queueLatency.WithLabelValues(d.Kind).Observe(d.Latency.Seconds())
}

// ObserveStage implements jobs.Observer.
func (c *Collector) ObserveStage(_ context.Context, d jobs.StageData) {
	if d.Retrying {
		c.retries.WithLabelValues(d.Kind, d.Stage).Inc()
	}
	c.stageDuration.WithLabelValues(d.Kind, d.Stage, d.Outcome).Observe(d.Duration.Seconds())
}

// ObserveRescue implements jobs.Observer.
func (c *Collector) ObserveRescue(_ context.Context, d jobs.RescueData) {
	c.rescued.Add(float64(d.Stages))
}

// ObserveStates implements jobs.Observer: the gauges follow the leader's
// counts and pauses, and are dropped when the client stops being the
// leader.
func (c *Collector) ObserveStates(_ context.Context, d jobs.StatesData) {
	c.mu.Lock()
	// Kept as is: the client makes new maps for each call (see
	// jobs.StatesData).
	c.queues = d.Queues
	if !d.Leader {
		c.queues = nil
	}
	c.mu.Unlock()
	if !d.Leader {
		c.jobs.Reset()
		return
	}
	for _, s := range jobs.States {
		c.jobs.WithLabelValues(string(s)).Set(float64(d.Counts[s]))
	}
}
