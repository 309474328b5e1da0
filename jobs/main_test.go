package jobs_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// The process tests re-run this test binary as a worker, so that kill -9
	// and SIGSTOP hit a real process.
	if scenario := os.Getenv(childEnv); scenario != "" {
		childMain(scenario)
		return
	}
	goleak.VerifyTestMain(migtest.Closing(m))
}
