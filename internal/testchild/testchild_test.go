package testchild

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestOutputArgsEnvAndExitCode(t *testing.T) {
	t.Parallel()
	c := Start(t, "print", []string{"out one", "err two", "out three"}, "EXIT_CODE=7")
	if code := c.Wait(10 * time.Second); code != 7 {
		t.Fatalf("exit code %d, want 7", code)
	}
	want := []string{"out one", "err two", "out three", "no newline"}
	if got := c.Lines(); !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	// Lines are searched from the start, also after the exit.
	if l := c.WaitPrefix("err", time.Second); l != "err two" {
		t.Fatalf("WaitPrefix = %q", l)
	}
}

func TestSignalAndWait(t *testing.T) {
	t.Parallel()
	c := Start(t, "term", nil)
	c.WaitPrefix("ready", 10*time.Second)
	c.Signal(syscall.SIGTERM)
	if code := c.Wait(10 * time.Second); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if l := c.WaitMatch(`"stopping"`, func(l string) bool { return l == "stopping" }, time.Second); l != "stopping" {
		t.Fatalf("WaitMatch = %q", l)
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	c := Start(t, "hang", nil)
	c.WaitPrefix("ready", 10*time.Second)
	c.Kill()
	if c.code != -1 {
		t.Fatalf("code %d after Kill", c.code)
	}
}

func TestFailuresSayWhatAndShowTheOutput(t *testing.T) {
	t.Parallel()
	scenario := func(name string) func(testing.TB) *Child {
		return func(t testing.TB) *Child { return Start(t, name, nil) }
	}
	test := func(name string, args []string, env ...string) func(testing.TB) *Child {
		return func(t testing.TB) *Child { return StartTest(t, name, args, env...) }
	}
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *Child
		do    func(c *Child)
		want  []string
	}{
		{"LineTooLate", scenario("hang"), func(c *Child) { c.WaitPrefix("ready", 10*time.Second); c.WaitPrefix("never", 200*time.Millisecond) },
			[]string{`hang printed no line starting with "never" within 200ms; output so far:`, "\nready"}},
		{"ExitWithoutTheLine", scenario("print"), func(c *Child) { c.WaitPrefix("never", 10*time.Second) },
			[]string{`print exited with code 0 without printing a line starting with "never"; output:`, "no newline"}},
		{"StillRunning", scenario("hang"), func(c *Child) { c.WaitPrefix("ready", 10*time.Second); c.Wait(100 * time.Millisecond) },
			[]string{"hang still running after 100ms; output so far:", "ready"}},
		{"KilledAfterItExited", scenario("print"), func(c *Child) { c.Wait(10 * time.Second); c.Kill() },
			[]string{"send killed to print: os: process already finished"}},
		{"DataRace", scenario("race"), func(c *Child) { c.Wait(10 * time.Second) },
			[]string{"the race detector found a data race in race:\nWARNING: DATA RACE"}},
		{"TestFailed", test("TestChild", []string{"fail"}), func(c *Child) { c.WaitPass(10 * time.Second) },
			[]string{"TestChild exited with code 1; output:", "--- FAIL: TestChild ("}},
		{"NoSuchTest", test("TestNoSuchTest", nil), func(c *Child) { c.WaitPass(10 * time.Second) },
			[]string{`TestNoSuchTest exited with code 0 but printed no "--- PASS: TestNoSuchTest (" line; output:`, "no tests to run"}},
		{"ArgsNotJSON", test("TestChild", nil, testEnvVar+"=nope"), func(c *Child) { c.WaitPass(10 * time.Second) },
			[]string{"TestChild exited with code 2; output:", "testchild: SEATBELT_TEST_CHILD_TEST=nope is not a JSON array of arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeTB{TB: t}
			f.run(func() { tc.do(tc.start(f)) })
			f.runCleanups()
			msgs := strings.Join(f.msgs, "\n")
			if !f.failed {
				t.Fatalf("the test did not fail; messages:\n%s", msgs)
			}
			for _, w := range tc.want {
				if !strings.Contains(msgs, w) {
					t.Errorf("messages lack %q:\n%s", w, msgs)
				}
			}
		})
	}
}

// TestStartTest runs TestChild, and only it: without the $ of ^TestChild$
// TestChildArgsOutsideAChild would run too.
func TestStartTest(t *testing.T) {
	t.Parallel()
	c := StartTest(t, "TestChild", []string{"one", `two "words"`}, "CHILD_ENV=set")
	c.WaitPass(10 * time.Second)
	lines := c.Lines()
	for _, want := range []string{`arg "one"`, `arg "two \"words\""`, "CHILD_ENV=set"} {
		if !slices.Contains(lines, want) {
			t.Errorf("no line %q in the output:\n%s", want, c.Output())
		}
	}
	var runs []string
	for _, l := range lines {
		if strings.HasPrefix(l, "=== RUN") {
			runs = append(runs, l)
		}
	}
	if want := []string{"=== RUN   TestChild"}; !slices.Equal(runs, want) {
		t.Errorf("tests run %q, want %q; output:\n%s", runs, want, c.Output())
	}
}

func TestChildArgsOutsideAChild(t *testing.T) {
	t.Parallel()
	if args, ok := Args(); ok {
		t.Fatalf("Args() = %q, true in a process StartTest did not start", args)
	}
}

// TestCleanupKillsTheChild ends a test whose child still runs: the cleanup
// kills and reaps it, and logs its output because the test failed.
func TestCleanupKillsTheChild(t *testing.T) {
	t.Parallel()
	f := &fakeTB{TB: t}
	var c *Child
	f.run(func() {
		c = Start(f, "hang", nil)
		c.WaitPrefix("ready", 10*time.Second)
		f.Errorf("the test fails")
	})
	f.runCleanups()
	select {
	case <-c.exited:
	default:
		t.Fatal("the child still runs after the cleanup")
	}
	if c.code != -1 {
		t.Fatalf("code %d, want -1 (killed)", c.code)
	}
	if msgs := strings.Join(f.msgs, "\n"); !strings.Contains(msgs, "testchild: hang printed:\nready") {
		t.Fatalf("output not logged:\n%s", msgs)
	}
}

// fakeTB is a test whose failures are recorded instead of reported.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	msgs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.Logf(format, args...)
	f.mu.Lock()
	f.failed = true
	f.mu.Unlock()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// run calls fn on a goroutine of its own, as the testing package runs a
// test, so that Fatalf ends only fn.
func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
