package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchStandbySmall(t *testing.T) {
	if testing.Short() {
		// .ci/run's query-mode runs use -short: this whole-system run is
		// covered by the full race run.
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "standby", "--json", "--size-mb", "8", "--holds", "2", "--writes", "100")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r benchStandbyResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if r.SizeMB < 8 || r.Holds != 2 || r.HoldP50Ms <= 0 || r.HoldMaxMs < r.HoldP50Ms || r.PgDumpSeconds <= 0 || r.PromoteMs <= 0 {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(out, "pg_dump -Fc of the same database") {
		t.Fatalf("no table:\n%s", out)
	}
	if out, code := runBench(t, "standby", "--holds", "0"); code != 2 || !strings.Contains(out, "--holds") {
		t.Fatalf("bad flags: exit %d\n%s", code, out)
	}
}
