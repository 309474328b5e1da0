package migtest

import (
	"context"
	"testing"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// Standby starts a PostgreSQL primary of the test's own and a streaming
// standby of it (pg_basebackup -R through a replication slot), from the
// installed binaries, and returns their URLs; both stop and are removed
// when the test ends. A service's test of its deploy with a held standby
// (package migcheck/standby) uses them:
//
//	primary, standby := migtest.Standby(t)
//
// They are servers, not databases of the shared test server: each call
// costs a second or two.
func Standby(t testing.TB) (primaryURL, standbyURL string) {
	t.Helper()
	ctx := context.Background()
	p, err := pglocal.StartThrowaway(ctx, &pglocal.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	s, err := pglocal.StartStandby(ctx, p, &pglocal.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return p.URL, s.URL
}
