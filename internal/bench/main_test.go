package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
)

func TestMain(m *testing.M) {
	// The reclaim measurement starts a worker process: here, this test
	// binary run as the CLI.
	testchild.Dispatch(map[string]testchild.Scenario{"bench": func(args []string) int {
		return run(context.Background(), args, os.Stdout, os.Stderr)
	}})
	workerCommand = func(ctx context.Context, args ...string) (*exec.Cmd, error) {
		return testchild.Command(ctx, "bench", args...), nil
	}
	goleak.VerifyTestMain(m)
}

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
