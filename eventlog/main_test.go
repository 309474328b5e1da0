package eventlog_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// The consumer crash tests re-run this test binary as the consumer
	// process, so a real process dies with its transaction open.
	testchild.Dispatch(map[string]testchild.Scenario{"consumer": childMain, "rebuild": rebuildChild, "group": groupChild})
	goleak.VerifyTestMain(migtest.Closing(m))
}
