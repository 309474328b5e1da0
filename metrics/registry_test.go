package metrics

import (
	"testing"
)

func TestRegistryHasRuntimeProcessAndBuildInfo(t *testing.T) {
	t.Parallel()
	fams, _ := scrape(t, NewRegistry())
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes", "go_build_info"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	if g := fams["go_goroutines"].GetMetric()[0].GetGauge().GetValue(); g < 1 {
		t.Errorf("go_goroutines = %v, want a live count", g)
	}
}
