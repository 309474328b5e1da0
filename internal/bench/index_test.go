package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchIndexSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "index", "--json", "--rows", "50000", "--rounds", "1", "--quiet", "500ms", "--write-rate", "100")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r benchIndexResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if r.Rows != 50000 || len(r.PlainSeconds) != 1 || len(r.SeatbeltSeconds) != 1 || r.PlainSeconds[0] <= 0 || r.SeatbeltSeconds[0] <= 0 ||
		r.QuietP99Ms <= 0 || r.SeatbeltP99Ms <= 0 || r.WritesDuringRuns < 1 || r.P99Ratio != r.SeatbeltP99Ms/r.QuietP99Ms ||
		len(r.OwnWorkMs) != 1 || r.OwnWorkMs[0] <= 0 || r.MedianPairOverhead != r.SeatbeltSeconds[0]/r.PlainSeconds[0]-1 {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(out, "plain CREATE INDEX CONCURRENTLY") || !strings.Contains(out, "write p99, during seatbelt builds") {
		t.Fatalf("no table:\n%s", out)
	}
	if out, code := runBench(t, "index", "--rows", "0"); code != 2 || !strings.Contains(out, "--rows") {
		t.Fatalf("bad flags: exit %d\n%s", code, out)
	}
}
