package tracing

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	testchild.Dispatch(map[string]testchild.Scenario{"setup": setupChild})
	goleak.VerifyTestMain(migtest.Closing(m))
}
