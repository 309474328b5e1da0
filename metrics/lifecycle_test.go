package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLifecycleFollowsPhases(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	l, err := NewLifecycle(reg)
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name string) float64 {
		fams, _ := scrape(t, reg)
		return fams[name].GetMetric()[0].GetGauge().GetValue()
	}
	l.OnPhase("ready", 1500*time.Millisecond)
	if gauge("service_ready") != 1 || gauge("service_startup_seconds") != 1.5 || gauge("service_shutting_down") != 0 {
		t.Fatal("after ready: want ready 1, startup 1.5 s, not shutting down")
	}
	l.OnPhase("stopping", 0)
	if gauge("service_ready") != 0 || gauge("service_shutting_down") != 1 {
		t.Fatal("after stopping: want ready 0 and shutting down 1")
	}
	l.OnPhase("drained", 6*time.Second)
	l.OnPhase("stopped", 7*time.Second)
	if gauge("service_shutdown_seconds") != 7 {
		t.Fatalf("shutdown seconds %v, want 7", gauge("service_shutdown_seconds"))
	}
	if _, err := NewLifecycle(reg); err == nil {
		t.Error("registering lifecycle gauges twice on one registry succeeded")
	}
}
