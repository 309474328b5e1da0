package jobs_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// The process tests re-run this test binary as a worker, so that kill -9
	// and SIGSTOP hit a real process.
	testchild.Dispatch(map[string]testchild.Scenario{"worker": workerChild, "cleanup": cleanupChild})
	goleak.VerifyTestMain(migtest.Closing(m))
}
