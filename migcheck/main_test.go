package migcheck_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// The killed-runner tests re-run this test binary as a migration runner,
	// so that SIGKILL hits a real process with its session open.
	testchild.Dispatch(map[string]testchild.Scenario{"runner": runChild, "indexer": indexChild})
	goleak.VerifyTestMain(migtest.Closing(m))
}
