package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
)

// TestChaosStopsOnSIGTERM sends the signal Kubernetes sends to a running
// chaos process and expects a clean exit with its state file intact.
func TestChaosStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(state, []byte(`{"state":{"lastAction":"2026-06-01T23:15:00Z","day":"2026-06-01","dayCount":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"chaos", "--action", "touch " + filepath.Join(dir, "acted"), "--state", state, "--execute", "--seed", "5"}
	c := testchild.Start(t, "cli", args)
	// Wait until the runner has planned its next moment, then stop it.
	c.WaitMatch(`log line with "next moment"`, func(l string) bool { return strings.Contains(l, "next moment") }, 20*time.Second)
	c.Signal(syscall.SIGTERM)
	if code := c.Wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, c.Output())
	}
	out := c.Output()
	if !strings.Contains(out, "runner stopped") || !strings.Contains(out, "lastAction=2026-06-01T23:15:00") || !strings.Contains(out, "mode=execute") {
		t.Fatalf("log:\n%s", out)
	}
	data, _ := os.ReadFile(state)
	if !strings.Contains(string(data), "2026-06-01T23:15:00Z") {
		t.Fatalf("state file changed: %s", data)
	}
}
