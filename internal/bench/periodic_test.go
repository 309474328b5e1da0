package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchPeriodicSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "periodic", "--json", "--duration", "5s", "--restart", "2s")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r benchPeriodicResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	if r.Replicas != 2 || r.Restarts < 3 || r.Slots < 3 || r.Fired != r.Slots || r.Doubled != 0 || r.Missed != 0 {
		t.Fatalf("result %+v\n%s", r, out)
	}
	if out, code := runBench(t, "periodic", "--every", "10ms"); code != 2 || !strings.Contains(out, "--every") {
		t.Fatalf("a schedule under a second: exit %d\n%s", code, out)
	}
}
