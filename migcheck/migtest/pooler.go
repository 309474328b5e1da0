package migtest

import (
	"context"
	"testing"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// PgBouncer starts a PgBouncer in transaction mode (a pool of 20 server
// connections per database) in front of the server url is on, for the
// test t, and returns url going through it. It stops when the test ends.
// A service's test of how it runs behind a pooler takes its pooled URL
// here and its direct one from [DirectURL]:
//
//	direct := migtest.DirectURL(migtest.NewURL(t, sets...))
//	pooled := migtest.PgBouncer(t, direct) + "&default_query_exec_mode=exec"
//
// PgBouncer must be installed (apt-get install -y pgbouncer); the test
// fails, saying so, when it is not.
func PgBouncer(t testing.TB, url string) string {
	t.Helper()
	return PgBouncerPool(t, url, 0)
}

// PgBouncerPool is [PgBouncer] with a pool of size server connections per
// database (0: 20). With 1, every client of the test meets the server
// connection the one before it used, and what it left there: a test of
// what a pooler carries from one client to the next.
func PgBouncerPool(t testing.TB, url string, size int) string {
	t.Helper()
	if size < 0 {
		t.Fatalf("migtest: a PgBouncer pool of %d server connections; give 1 or more, or 0 for 20", size)
	}
	p, err := pglocal.StartPgBouncer(context.Background(), url, &pglocal.PoolerOptions{PoolSize: size})
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("migtest: stopping pgbouncer: %v", err)
		}
	})
	u, err := p.URL(url)
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	return u
}
