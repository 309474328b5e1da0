package rehearse

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(migtest.Closing(m)) }
