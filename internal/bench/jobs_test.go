package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchJobsSmall(t *testing.T) {
	if testing.Short() {
		// .ci/run's query-mode runs use -short: this whole-system run (and
		// its peer's SQL) is covered by the full run.
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "jobs", "--json", "--jobs", "300", "--staged-jobs", "30", "--stages", "3",
		"--latency-samples", "10", "--tracked-jobs", "20", "--lease", "1s", "--rounds", "1", "--pooler")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r benchJobsResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if r.JobsPerSec <= 0 || r.RiverJobsPerSec <= 0 || r.PeerJobsPerSec != r.RiverJobsPerSec || r.StageTransitionsPerSec <= 0 ||
		r.LatencyP50Ms <= 0 || r.LatencyP95Ms < r.LatencyP50Ms || r.PeerLatencyP50Ms <= 0 || r.TrackedRatio <= 0 || r.LeaseMs != 1000 ||
		r.PooledJobsPerSec <= 0 || r.PooledVsDirect != r.PooledJobsPerSec/r.JobsPerSec || r.PooledLatencyP50Ms <= 0 || r.PooledLatencyP95Ms < r.PooledLatencyP50Ms {
		t.Fatalf("result %+v", r)
	}
	// The reclaim cannot happen before the lease of the killed worker ends.
	if r.ReclaimMs < 500 || r.ReclaimMs > 60000 {
		t.Fatalf("reclaim after %.0f ms with a 1s lease", r.ReclaimMs)
	}
}

func TestBenchJobsRejectsBadFlags(t *testing.T) {
	if out, code := runBench(t, "jobs", "--peer", "sidekiq"); code != 2 || !strings.Contains(out, "--peer") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if out, code := runBench(t, "jobs", "--jobs", "0"); code != 2 || !strings.Contains(out, "positive") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
