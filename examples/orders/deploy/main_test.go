package deploy

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// migtest finds its server at TEST_DATABASE_URL, else 127.0.0.1:5432;
	// the service's own DATABASE_URL serves when only that is set.
	if os.Getenv("TEST_DATABASE_URL") == "" && os.Getenv("DATABASE_URL") != "" {
		os.Setenv("TEST_DATABASE_URL", os.Getenv("DATABASE_URL"))
		fmt.Fprintln(os.Stderr, "TEST_DATABASE_URL is unset: the tests use the server at DATABASE_URL")
	}
	goleak.VerifyTestMain(migtest.Closing(m))
}
