package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// The signal tests re-run this test binary as the CLI, so that SIGTERM
	// hits a real seatbelt process.
	testchild.Dispatch(map[string]testchild.Scenario{"cli": func(args []string) int {
		return run(context.Background(), args, os.Stdout, os.Stderr)
	}})
	goleak.VerifyTestMain(migtest.Closing(m))
}

// runCLI runs the CLI in-process, as main does, and returns what it printed
// and its exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := run(t.Context(), args, &out, &out)
	return out.String(), code
}

func TestVersion(t *testing.T) {
	out, code := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "seatbelt ") || !strings.Contains(out, "go1.") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	out, code := runCLI(t, "no-such-command")
	if code != 2 || !strings.Contains(out, "unknown command") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	if got := exitCode(problems(errors.New("x"))); got != 1 {
		t.Fatalf("problems: exit %d, want 1", got)
	}
	if got := exitCode(errors.New("x")); got != 2 {
		t.Fatalf("plain error: exit %d, want 2", got)
	}
}
