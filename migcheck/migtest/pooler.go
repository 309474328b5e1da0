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
	p, err := pglocal.StartPgBouncer(context.Background(), url, nil)
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
