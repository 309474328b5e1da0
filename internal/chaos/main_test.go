package chaos

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(closingServer{m}) }

// closingServer stops a throwaway PostgreSQL, if the tests started one, once
// they have all run.
type closingServer struct{ m *testing.M }

func (c closingServer) Run() int {
	code := c.m.Run()
	if server != nil {
		_ = server.Close()
	}
	return code
}
