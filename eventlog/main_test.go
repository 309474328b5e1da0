package eventlog_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// The consumer crash tests re-run this test binary as the consumer
	// process, so a real process dies with its transaction open.
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	goleak.VerifyTestMain(migtest.Closing(m))
}
