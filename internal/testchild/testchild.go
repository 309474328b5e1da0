// Package testchild runs a test binary again as a child process, for tests
// whose subject is a whole process: what a service does on SIGTERM, what a
// migration runner killed with SIGKILL leaves behind, what a worker paused
// with SIGSTOP past its lease does when it wakes. Such things cannot happen
// in-process, and a second program built for the test would drift from the
// code under test; so the test binary itself, started with one environment
// variable, runs the scenario instead of the tests.
//
// A package names its scenarios in TestMain, before anything else:
//
//	func TestMain(m *testing.M) {
//		testchild.Dispatch(map[string]testchild.Scenario{"serve": serveMain})
//		goleak.VerifyTestMain(m)
//	}
//
// A test starts one with [Start], waits for a line of its output, signals it
// and waits for its exit:
//
//	c := testchild.Start(t, "serve", nil, "SHUTDOWN_DELAY=1s")
//	c.WaitPrefix("listening", 10*time.Second)
//	c.Signal(syscall.SIGTERM)
//	if code := c.Wait(5 * time.Second); code != 0 { ... }
//
// When the test ends the child is killed and reaped, so none outlives it;
// its output is logged if the test failed, and a data race the child's race
// detector reported fails the test. Code that starts the process itself
// takes [Command], or [Env] with os.Args[0].
//
// A child that needs a *testing.T, to call a helper that takes one, runs a
// test of the binary instead of a scenario. [StartTest] runs that test alone
// in the child; the test learns from [Args] that it is the child, and what it
// was given, and skips in an ordinary run. [Child.WaitPass] waits for it to
// pass:
//
//	func TestShared(t *testing.T) {
//		c := testchild.StartTest(t, "TestSharedChild", []string{"a"})
//		c.WaitPass(time.Minute)
//		// c.Lines() holds what TestSharedChild logged.
//	}
//
//	func TestSharedChild(t *testing.T) {
//		args, ok := testchild.Args()
//		if !ok {
//			t.Skip("the child of TestShared")
//		}
//		...
//	}
package testchild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envVar holds the scenario and its arguments as a JSON array.
const envVar = "SEATBELT_TEST_CHILD"

// Scenario is what a child process runs instead of the tests; it returns
// the exit code.
type Scenario func(args []string) int

// Dispatch runs the scenario a child was started with and exits with its
// code. In any other process it returns at once.
func Dispatch(scenarios map[string]Scenario) {
	v, ok := os.LookupEnv(envVar)
	if !ok {
		return
	}
	// The scenario's own child processes are not scenarios.
	_ = os.Unsetenv(envVar)
	var argv []string
	if err := json.Unmarshal([]byte(v), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintf(os.Stderr, "testchild: %s=%s is not a JSON array of a scenario and its arguments\n", envVar, v)
		os.Exit(2)
	}
	run, ok := scenarios[argv[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "testchild: this test binary has no scenario %q\n", argv[0])
		os.Exit(2)
	}
	os.Exit(run(argv[1:]))
}

// Env is the environment entry that makes this test binary, started again,
// run scenario with args.
func Env(scenario string, args ...string) string {
	b, _ := json.Marshal(append([]string{scenario}, args...))
	return envVar + "=" + string(b)
}

// Command returns a command that runs scenario with args in a new process of
// this test binary, for code that starts and watches the process itself.
func Command(ctx context.Context, scenario string, args ...string) *exec.Cmd {
	// -test.run=^$: should the binary not call Dispatch, the child runs no
	// tests instead of all of them.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), Env(scenario, args...), noExitSleep)
	return cmd
}

// noExitSleep is in every child's environment: the race detector sleeps a
// second at exit unless told not to, which would hide the exit timings
// under test.
const noExitSleep = "GORACE=atexit_sleep_ms=0"

// Child is a running scenario started by [Start], or test started by
// [StartTest]. Its methods fail the test when what they wait for does not
// happen, with the child's output so far.
type Child struct {
	t        testing.TB
	scenario string // or the test's name
	cmd      *exec.Cmd
	out      *lines
	exited   chan struct{} // closed when the process is reaped and its output read
	code     int
}

// Start runs scenario with args in a new process of this test binary, with
// env added to its environment. Its standard output and error are read as
// one stream of lines.
func Start(t testing.TB, scenario string, args []string, env ...string) *Child {
	t.Helper()
	return start(t, scenario, Command(context.Background(), scenario, args...), env)
}

// start runs cmd, with env added to its environment, as the child called
// scenario in messages.
func start(t testing.TB, scenario string, cmd *exec.Cmd, env []string) *Child {
	t.Helper()
	c := &Child{t: t, scenario: scenario, cmd: cmd, out: &lines{more: make(chan struct{})}, exited: make(chan struct{})}
	c.cmd.Env = append(c.cmd.Env, env...)
	// The same writer for both: exec gives the child one pipe for the two,
	// so the lines keep the order the child wrote them in.
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	// A process the child started and left holding the pipe does not keep
	// the test waiting for long.
	c.cmd.WaitDelay = 5 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("testchild: start %s: %v", scenario, err)
	}
	go func() {
		_ = c.cmd.Wait()
		c.code = c.cmd.ProcessState.ExitCode()
		c.out.flush()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
		out := c.Output()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("testchild: the race detector found a data race in %s:\n%s", scenario, out)
		} else if t.Failed() {
			t.Logf("testchild: %s printed:\n%s", scenario, out)
		}
	})
	return c
}

// WaitPrefix returns the first line of output that starts with prefix,
// waiting up to d for it.
func (c *Child) WaitPrefix(prefix string, d time.Duration) string {
	c.t.Helper()
	return c.WaitMatch(fmt.Sprintf("line starting with %q", prefix), func(l string) bool { return strings.HasPrefix(l, prefix) }, d)
}

// WaitMatch returns the first line of output that match accepts, waiting up
// to d for it; want names such a line in the failure message.
func (c *Child) WaitMatch(want string, match func(line string) bool, d time.Duration) string {
	c.t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for seen := 0; ; {
		lines, more := c.out.since(seen)
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		seen += len(lines)
		select {
		case <-more:
		case <-c.exited:
			lines, _ := c.out.since(seen)
			for _, l := range lines {
				if match(l) {
					return l
				}
			}
			c.t.Fatalf("testchild: %s exited with code %d without printing a %s; output:\n%s", c.scenario, c.code, want, c.Output())
		case <-timeout.C:
			c.t.Fatalf("testchild: %s printed no %s within %v; output so far:\n%s", c.scenario, want, d, c.Output())
		}
	}
}

// Signal sends sig to the child and returns when it was sent.
func (c *Child) Signal(sig os.Signal) time.Time {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("testchild: send %v to %s: %v; output so far:\n%s", sig, c.scenario, err, c.Output())
	}
	return time.Now()
}

// Wait waits up to d for the child to exit and returns its exit code: -1
// when a signal ended it.
func (c *Child) Wait(d time.Duration) int {
	c.t.Helper()
	select {
	case <-c.exited:
		return c.code
	case <-time.After(d):
		c.t.Fatalf("testchild: %s still running after %v; output so far:\n%s", c.scenario, d, c.Output())
		return 0
	}
}

// Kill sends SIGKILL and waits for the child to die of it, failing the test
// if it had already exited by itself.
func (c *Child) Kill() {
	c.t.Helper()
	c.Signal(syscall.SIGKILL)
	if code := c.Wait(10 * time.Second); code != -1 {
		c.t.Fatalf("testchild: %s exited with code %d before it was killed; output:\n%s", c.scenario, code, c.Output())
	}
}

// Lines returns the lines printed so far.
func (c *Child) Lines() []string {
	l, _ := c.out.since(0)
	return l
}

// Output returns what the child printed so far.
func (c *Child) Output() string { return strings.Join(c.Lines(), "\n") }

// lines collects the child's output one line at a time.
type lines struct {
	mu      sync.Mutex
	done    []string
	partial []byte
	more    chan struct{} // closed and replaced when a line is added
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.done = append(l.done, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.more)
		l.more = make(chan struct{})
	}
	return len(p), nil
}

// flush keeps a last line that lacks its newline.
func (l *lines) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.done = append(l.done, string(l.partial))
		l.partial = nil
	}
}

// since returns the lines from the n-th on, and a channel closed when there
// are more.
func (l *lines) since(n int) ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.done[n:]...), l.more
}
