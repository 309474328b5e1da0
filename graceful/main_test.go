package graceful

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The lifecycle tests re-run this test binary as the service under test,
	// so that real signals hit a real process.
	if scenario := os.Getenv(childEnv); scenario != "" {
		childMain(scenario)
		return
	}
	goleak.VerifyTestMain(m)
}
