package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Lifecycle holds a service's lifecycle gauges:
//
//	service_ready               1 while the service reports ready, else 0
//	service_shutting_down       1 from the moment a stop begins
//	service_startup_seconds     time from start to ready
//	service_shutdown_seconds    time from the stop's beginning to the last phase reached
//
// Its OnPhase method has the shape of graceful.Config.OnPhase, which is how
// the graceful package feeds it without depending on this one.
type Lifecycle struct {
	ready, stopping, startup, shutdown prometheus.Gauge
}

// NewLifecycle registers the lifecycle gauges on r (prometheus.DefaultRegisterer
// if nil).
func NewLifecycle(r prometheus.Registerer) (*Lifecycle, error) {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	l := &Lifecycle{
		ready:    g("service_ready", "1 while the service reports ready (its /readyz answers 200), else 0."),
		stopping: g("service_shutting_down", "1 once the service began to stop (readiness dropped, draining), else 0."),
		startup:  g("service_startup_seconds", "Seconds the service took from start to ready, startup gates included."),
		shutdown: g("service_shutdown_seconds", "Seconds since the stop began, as of the last shutdown phase reached (drained, stopped)."),
	}
	if r == nil {
		r = prometheus.DefaultRegisterer
	}
	for _, c := range []prometheus.Collector{l.ready, l.stopping, l.startup, l.shutdown} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering lifecycle gauges (register them once per registry): %w", err)
		}
	}
	return l, nil
}

// OnPhase records a lifecycle phase: "ready" (took = startup time),
// "stopping", "drained" and "stopped" (took = time since the stop began).
// Other phases are ignored. It never blocks.
func (l *Lifecycle) OnPhase(phase string, took time.Duration) {
	switch phase {
	case "ready":
		l.ready.Set(1)
		l.stopping.Set(0)
		l.startup.Set(took.Seconds())
	case "stopping":
		l.ready.Set(0)
		l.stopping.Set(1)
	case "drained", "stopped":
		l.ready.Set(0)
		l.stopping.Set(1)
		l.shutdown.Set(took.Seconds())
	}
}
