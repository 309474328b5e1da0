package graceful

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noShutdownDelay is the child's environment for a stop without the delay:
// None spelled so that time.ParseDuration reads it back.
var noShutdownDelay = "SHUTDOWN_DELAY=" + None.String()

func TestStartupGatesHoldReadiness(t *testing.T) {
	t.Parallel()
	flag := filepath.Join(t.TempDir(), "migrated")
	c := startChild(t, "serve", "GATE_FILE="+flag, noShutdownDelay)

	c.waitLog("graceful: startup gate not passed yet")
	for _, probe := range []struct {
		path string
		want int
	}{{"/livez", 200}, {"/readyz", 503}, {"/startupz", 503}} {
		if got, err := status(c.probe + probe.path); err != nil || got != probe.want {
			t.Fatalf("before the gate passed, %s = %d (%v), want %d", probe.path, got, err, probe.want)
		}
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.waitStatus(c.probe+"/startupz", 200, 10*time.Second)
	c.waitStatus(c.probe+"/readyz", 200, time.Second)
	c.waitStatus(c.app+"/fast", 200, time.Second)
	if c.logIndex("graceful: startup gate passed", "gate", "gate-file") < 0 {
		t.Fatal("no log line for the gate passing")
	}
	c.signal(syscall.SIGTERM)
	if code := c.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

func TestGateThatNeverPassesExitsNonZeroAndRunsHooks(t *testing.T) {
	t.Parallel()
	c := startChild(t, "serve",
		"GATE_FILE=/nonexistent/never", "STARTUP_TIMEOUT=400ms", "HOOKS=close-db close-tracer")
	if code := c.wait(10 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	exit := c.waitLog("graceful: exiting")
	if e, _ := exit["error"].(string); !strings.Contains(e, `startup gate "gate-file" did not pass`) || !strings.Contains(e, "waiting for /nonexistent/never") {
		t.Fatalf("exit log does not carry the gate's error: %v", exit)
	}
	for _, h := range []string{"close-db", "close-tracer"} {
		if c.logIndex("test: hook ran", "hook", h) < 0 {
			t.Errorf("stop hook %s did not run after the gate failed", h)
		}
	}
}

// The tests that measure timings run one at a time, not beside the other
// child processes of this package.

func TestSIGTERMDropsReadinessKeepsServingThenDrains(t *testing.T) {
	c := startChild(t, "serve", "SHUTDOWN_DELAY=1s", "DRAIN_TIMEOUT=5s", "HOOK_TIMEOUT=1s")
	c.waitStatus(c.probe+"/readyz", 200, 5*time.Second)

	slow := make(chan int, 1)
	go func() {
		code, err := status(c.app + "/slow?d=3s")
		if err != nil {
			t.Errorf("slow request: %v", err)
		}
		slow <- code
	}()
	c.waitLog("graceful: ready")
	time.Sleep(100 * time.Millisecond) // the slow request is in flight
	sent := c.signal(syscall.SIGTERM)

	c.waitStatus(c.probe+"/readyz", 503, time.Second)
	if took := time.Since(sent); took > 50*time.Millisecond {
		t.Errorf("readiness dropped %v after SIGTERM, want within 50ms", took)
	}
	if got, err := status(c.probe + "/livez"); err != nil || got != 200 {
		t.Fatalf("/livez during shutdown = %d (%v), want 200", got, err)
	}
	// New connections are still accepted and served during the delay.
	for time.Since(sent) < 800*time.Millisecond {
		if got, err := status(c.app + "/fast"); err != nil || got != 200 {
			t.Fatalf("new request %v after SIGTERM: %d (%v), want 200", time.Since(sent), got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// After the delay the listener is closed while the slow request drains.
	time.Sleep(time.Until(sent.Add(1300 * time.Millisecond)))
	if _, err := status(c.app + "/fast"); err == nil {
		t.Fatal("a new connection was accepted after the shutdown delay")
	}
	if got, err := status(c.probe + "/livez"); err != nil || got != 200 {
		t.Fatalf("/livez while draining = %d (%v), want 200", got, err)
	}
	if code := <-slow; code != 200 {
		t.Fatalf("request started before SIGTERM finished with %d, want 200", code)
	}
	if code := c.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	drain := c.waitLog("graceful: draining")
	if drain["requests"] != float64(1) {
		t.Errorf("draining log says %v requests, want 1", drain["requests"])
	}
	order := []string{"graceful: ready", "graceful: shutdown started", "graceful: not ready",
		"graceful: draining", "graceful: drained", "graceful: stopped"}
	last := -1
	for _, msg := range order {
		i := c.logIndex(msg)
		if i <= last {
			t.Fatalf("log line %q at %d, want after %d (order %v)", msg, i, last, order)
		}
		last = i
	}
	for _, msg := range []string{"graceful: ready", "graceful: stopped"} {
		key := map[string]string{"graceful: ready": "startup", "graceful: stopped": "duration"}[msg]
		if d, err := time.ParseDuration(c.waitLog(msg)[key].(string)); err != nil || d < 0 {
			t.Errorf("%q has no duration: %v", msg, err)
		}
	}
}

func TestLoopsStopBeforeHooksRunInReverse(t *testing.T) {
	t.Parallel()
	c := startChild(t, "serve", noShutdownDelay, "LOOP=1",
		"HOOKS=first second third", "FAILING_HOOK=second")
	c.waitLog("graceful: ready")
	c.signal(syscall.SIGTERM)
	if code := c.wait(5 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1 after a failing hook", code)
	}
	loop := c.logIndex("test: loop stopped")
	third, second, first := c.logIndex("test: hook ran", "hook", "third"),
		c.logIndex("test: hook ran", "hook", "second"), c.logIndex("test: hook ran", "hook", "first")
	if !(loop >= 0 && loop < third && third < second && second < first) {
		t.Fatalf("order: loop %d, hooks third %d second %d first %d; want loop, third, second, first", loop, third, second, first)
	}
	failed := c.waitLog("graceful: stop hooks failed")
	if e, _ := failed["error"].(string); !strings.Contains(e, `stop hook "second": flush failed`) {
		t.Fatalf("hook failure log: %v", failed)
	}
}

func TestStopBudgetExitsAndNamesWhatWasRunning(t *testing.T) {
	c := startChild(t, "serve", noShutdownDelay, "DRAIN_TIMEOUT=200ms",
		"HOOK_TIMEOUT=200ms", "STOP_TIMEOUT=1s", "STUBBORN_LOOP=1")
	c.waitLog("graceful: ready")
	sent := c.signal(syscall.SIGTERM)
	code := c.wait(5 * time.Second)
	took := time.Since(sent)
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if took > 1100*time.Millisecond || took < time.Second {
		t.Fatalf("exited %v after SIGTERM, want within the 1s budget + 100ms", took)
	}
	rec := c.waitLog("graceful: stop budget exhausted")
	if running := rec["still_running"].([]any); len(running) != 1 || running[0] != "loop stubborn" {
		t.Fatalf("still_running = %v, want [loop stubborn]", running)
	}
}

func TestDrainDeadlineCancelsRequests(t *testing.T) {
	t.Parallel()
	c := startChild(t, "serve", noShutdownDelay, "DRAIN_TIMEOUT=300ms", "HOOK_TIMEOUT=200ms", "STOP_TIMEOUT=2s")
	c.waitLog("graceful: ready")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = status(c.app + "/slow?d=30s")
	}()
	time.Sleep(100 * time.Millisecond)
	sent := c.signal(syscall.SIGTERM)
	if code := c.wait(3 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if took := time.Since(sent); took > 1500*time.Millisecond {
		t.Fatalf("took %v to stop with a 300ms drain", took)
	}
	if c.logIndex("test: request cancelled") < 0 {
		t.Fatal("the in-flight request's context was not cancelled at the drain deadline")
	}
	if c.logIndex("graceful: drain timeout, cancelling requests still in flight", "requests", "1") < 0 {
		t.Fatal("no log line naming the request cancelled at the drain deadline")
	}
	<-done
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			c := startChild(t, "serve", noShutdownDelay, "HOOKS=slow", "DRAIN_TIMEOUT=1s", "SLOW_HOOK=20s", "HOOK_TIMEOUT=25s", "STOP_TIMEOUT=28s")
			c.waitLog("graceful: ready")
			c.signal(syscall.SIGTERM)
			c.waitLog("test: hook ran")
			sent := c.signal(sig)
			code := c.wait(2 * time.Second)
			if code != 128+int(sig) {
				t.Fatalf("exit code %d, want %d", code, 128+int(sig))
			}
			if took := time.Since(sent); took > 500*time.Millisecond {
				t.Fatalf("second signal took %v to exit", took)
			}
		})
	}
}

func TestIdleStopIsFast(t *testing.T) {
	c := startChild(t, "serve", noShutdownDelay)
	c.waitLog("graceful: ready")
	sent := c.signal(syscall.SIGTERM)
	if code := c.wait(2 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if took := time.Since(sent); took > 100*time.Millisecond {
		t.Fatalf("idle SIGTERM to exit took %v, want under 100ms", took)
	}
}

func TestMainErrorExitsOne(t *testing.T) {
	t.Parallel()
	c := startChild(t, "main-fails")
	if code := c.wait(5 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if e, _ := c.waitLog("graceful: exiting")["error"].(string); !strings.Contains(e, "cannot open the database") {
		t.Fatalf("exit log does not carry main's error")
	}
}
