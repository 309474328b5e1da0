package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchEventlogSmall(t *testing.T) {
	if testing.Short() {
		// .ci/run's query-mode runs use -short: this whole-system run (and
		// its peer's SQL) is covered by the full run.
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "eventlog", "--json", "--writers", "4", "--duration", "600ms", "--batch", "10", "--latency-rate", "200", "--pooler")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r benchEventlogResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if r.BaselinePerSec <= 0 || r.EventsPerSec <= 0 || r.Ratio != r.EventsPerSec/r.BaselinePerSec || r.BatchEventsPerSec <= 0 ||
		r.ConsumerPerSec <= 0 || r.ConsumedRecords <= 0 || r.LatencySamples < 20 || r.LatencyP50Ms <= 0 ||
		r.LatencyP99Ms < r.LatencyP50Ms || r.Writers != 4 || r.Batch != 10 ||
		r.PooledPerSec <= 0 || r.PooledVsDirect != r.PooledPerSec/r.EventsPerSec || r.ExecPerSec <= 0 || r.PooledVsExec != r.PooledPerSec/r.ExecPerSec ||
		r.PgbenchPerSec <= 0 || r.VsPgbench != r.EventsPerSec/r.PgbenchPerSec {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(out, "raw INSERT baseline") || !strings.Contains(out, "append-to-delivery p99") || !strings.Contains(out, "behind PgBouncer") ||
		!strings.Contains(out, "the same INSERT by pgbench") {
		t.Fatalf("no table:\n%s", out)
	}
	if out, code := runBench(t, "eventlog", "--writers", "0"); code != 2 || !strings.Contains(out, "--writers") {
		t.Fatalf("bad flags: exit %d\n%s", code, out)
	}
}

func TestBenchEventlogGroupSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "eventlog-group", "--json", "--records", "20000", "--streams", "50", "--partitions", "4", "--batch", "100")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r benchGroupResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if r.ConsumerPerSec <= 0 || r.OneMemberPerSec <= 0 || r.GroupPerSec <= 0 || r.GroupVsOne != r.GroupPerSec/r.OneMemberPerSec ||
		r.Records != 20000 || r.Members != 4 || r.Processes != 2 || r.Partitions != 4 {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(out, "4 members in 2 processes") {
		t.Fatalf("no table:\n%s", out)
	}
	if out, code := runBench(t, "eventlog-group", "--members", "3", "--processes", "2"); code != 2 || !strings.Contains(out, "--members") {
		t.Fatalf("bad flags: exit %d\n%s", code, out)
	}
}
