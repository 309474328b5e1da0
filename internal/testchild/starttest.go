package testchild

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testEnvVar holds the arguments of a test started by [StartTest], as a JSON
// array. It is not envVar, so that [Dispatch] lets the tests run.
const testEnvVar = "SEATBELT_TEST_CHILD_TEST"

// StartTest runs the top-level test called name, alone and verbosely, in a
// new process of this test binary, with env added to its environment; the
// test reads args with [Args]. The child is a [Child] like one [Start]
// returns; [Child.WaitPass] waits for the test to pass.
func StartTest(t testing.TB, name string, args []string, env ...string) *Child {
	t.Helper()
	b, _ := json.Marshal(append([]string{}, args...))
	// -test.v prints the test's logs and its "--- PASS" line even when it
	// passes; -test.count=1 runs it once whatever the parent was given.
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(name)+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), testEnvVar+"="+string(b), noExitSleep)
	return start(t, name, cmd, env)
}

// Args returns the arguments given to [StartTest] and true in the child it
// started; in any other process, nil and false.
func Args() ([]string, bool) {
	v, ok := os.LookupEnv(testEnvVar)
	if !ok {
		return nil, false
	}
	var args []string
	if err := json.Unmarshal([]byte(v), &args); err != nil {
		fmt.Fprintf(os.Stderr, "testchild: %s=%s is not a JSON array of arguments\n", testEnvVar, v)
		os.Exit(2)
	}
	return args, true
}

// WaitPass waits up to d for a child started by [StartTest] to exit, and
// fails the test unless the test it ran passed: it exited with code 0 and
// printed the test's "--- PASS" line, which a name that matches no test, run
// with "no tests to run" and code 0, lacks.
func (c *Child) WaitPass(d time.Duration) {
	c.t.Helper()
	if code := c.Wait(d); code != 0 {
		c.t.Fatalf("testchild: %s exited with code %d; output:\n%s", c.scenario, code, c.Output())
	}
	pass := "--- PASS: " + c.scenario + " ("
	if !slices.ContainsFunc(c.Lines(), func(l string) bool { return strings.HasPrefix(l, pass) }) {
		c.t.Fatalf("testchild: %s exited with code 0 but printed no %q line; output:\n%s", c.scenario, pass, c.Output())
	}
}
