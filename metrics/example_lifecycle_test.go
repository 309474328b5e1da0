package metrics_test

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/graceful"
	"github.com/seatbelt-go/seatbelt/metrics"
)

// graceful reports its phases through Config.OnPhase and serves the registry
// on its probe port; Lifecycle turns the phases into gauges.
func ExampleLifecycle_OnPhase() {
	reg := prometheus.NewRegistry()
	lc, err := metrics.NewLifecycle(reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := graceful.Config{OnPhase: lc.OnPhase, Metrics: metrics.Handler(reg)}

	cfg.OnPhase("ready", 2500*time.Millisecond) // what graceful.Run calls
	printSeries(reg, "service_")
	// Output:
	// service_ready{} 1
	// service_shutdown_seconds{} 0
	// service_shutting_down{} 0
	// service_startup_seconds{} 2.5
}
