package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestChaosHelperProcess is the chaos command in a child process; it does
// nothing unless TestChaosStopsOnSIGTERM started it.
func TestChaosHelperProcess(t *testing.T) {
	if os.Getenv("SEATBELT_CHAOS_HELPER") != "1" {
		return
	}
	cmd := newRootCmd()
	cmd.SetArgs(strings.Split(os.Getenv("SEATBELT_CHAOS_ARGS"), "\x1f"))
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
}

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
	cmd := exec.Command(os.Args[0], "-test.run=^TestChaosHelperProcess$")
	cmd.Env = append(os.Environ(), "SEATBELT_CHAOS_HELPER=1", "SEATBELT_CHAOS_ARGS="+strings.Join(args, "\x1f"))
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the runner has planned its next moment, then stop it.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), "next moment"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no next moment logged:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running 10s after SIGTERM:\n%s", stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "runner stopped") || !strings.Contains(out, "lastAction=2026-06-01T23:15:00") || !strings.Contains(out, "mode=execute") {
		t.Fatalf("log:\n%s", out)
	}
	data, _ := os.ReadFile(state)
	if !strings.Contains(string(data), "2026-06-01T23:15:00Z") {
		t.Fatalf("state file changed: %s", data)
	}
}

// lockedBuffer is written by exec's copying goroutine while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
