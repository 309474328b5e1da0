package graceful

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
)

func TestMain(m *testing.M) {
	// The lifecycle tests re-run this test binary as the service under test,
	// so that real signals hit a real process.
	testchild.Dispatch(map[string]testchild.Scenario{
		"serve":      func([]string) int { childMain("serve"); return 0 },
		"main-fails": func([]string) int { childMain("main-fails"); return 0 },
	})
	goleak.VerifyTestMain(m)
}
