package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runBench runs the command in-process, as main does, and returns what it
// printed and its exit code.
func runBench(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := run(t.Context(), args, &out, &out)
	return out.String(), code
}

func TestUsageMistakesExitTwo(t *testing.T) {
	for _, args := range [][]string{{"no-such"}, {"jobs", "extra"}, {"eventlog", "--no-such-flag"}} {
		if out, code := runBench(t, args...); code != 2 || !strings.Contains(out, "bench:") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
}
