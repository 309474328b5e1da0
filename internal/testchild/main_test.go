package testchild

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	Dispatch(map[string]Scenario{
		"print": printChild,
		"term":  termChild,
		"hang":  hangChild,
		"race":  func([]string) int { fmt.Println("WARNING: DATA RACE"); return 0 },
	})
	goleak.VerifyTestMain(m)
}

// printChild prints its arguments, those starting with "err" to standard
// error, then whether the scenario variable reached it, then a line without
// a newline, and exits with $EXIT_CODE.
func printChild(args []string) int {
	for _, a := range args {
		w := os.Stdout
		if a[:3] == "err" {
			w = os.Stderr
		}
		fmt.Fprintln(w, a)
	}
	if _, ok := os.LookupEnv(envVar); ok {
		fmt.Println("scenario variable still set")
	}
	fmt.Print("no newline")
	code, _ := strconv.Atoi(os.Getenv("EXIT_CODE"))
	return code
}

// termChild says "ready", and "stopping" on SIGTERM, then exits with 3.
func termChild([]string) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Println("ready")
	<-sig
	fmt.Println("stopping")
	return 3
}

// hangChild says "ready" and sleeps.
func hangChild([]string) int {
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return 0
}

// TestChild runs in the children of the tests of StartTest: it prints its
// arguments, failing if one is "fail", and $CHILD_ENV.
func TestChild(t *testing.T) {
	args, ok := Args()
	if !ok {
		t.Skip("runs as the child of the tests of StartTest")
	}
	for _, a := range args {
		fmt.Printf("arg %q\n", a)
		if a == "fail" {
			t.Error("asked to fail")
		}
	}
	fmt.Printf("CHILD_ENV=%s\n", os.Getenv("CHILD_ENV"))
}
