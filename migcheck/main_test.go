package migcheck_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(migtest.Closing(m))
}
