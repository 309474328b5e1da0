package migtest

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// The server and the templates built on it, kept from the first New until
// Close.
var (
	mu        sync.Mutex
	server    *pglocal.Server
	templates = map[string]*template{}
	// findOptions is how the server is looked for; nil is pglocal's search
	// for tests. Tests of Close set it (export_test.go).
	findOptions *pglocal.Options
)

// templateFor returns the template of hash on the server, finding the
// server first if this is the first database asked for since Close.
func templateFor(ctx context.Context, hash string, sets []migcheck.Set) (*template, error) {
	mu.Lock()
	defer mu.Unlock()
	if server == nil {
		srv, err := pglocal.Find(ctx, findOptions)
		if err != nil {
			return nil, err
		}
		server = srv
	}
	tpl := templates[hash]
	if tpl == nil {
		tpl = &template{hash: hash, server: server.URL, sets: sets}
		templates[hash] = tpl
	}
	return tpl, nil
}

// Close stops the throwaway PostgreSQL server migtest started when no other
// server answered, removes its files, and forgets the templates built so far
// and the connections kept to the server. Call it once the tests have run,
// from TestMain (see [Closing]); a New after it looks for a server again.
//
// It does nothing to a server migtest found rather than started: databases
// and templates there stay for the next run. It is safe to call when no
// test used migtest, and more than once.
func Close() error {
	mu.Lock()
	defer mu.Unlock()
	closeIdle()
	templates = map[string]*template{}
	srv := server
	server = nil
	if err := srv.Close(); err != nil {
		return fmt.Errorf("migtest: stopping the throwaway PostgreSQL server: %w", err)
	}
	return nil
}

// Closing returns m, the TestMain's *testing.M, with [Close] run after its
// tests, so a throwaway server does not outlive the test binary. It reads
// well inside goleak's check:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(migtest.Closing(m)) }
//
// or alone: os.Exit(migtest.Closing(m).Run()). A Close that fails is printed
// and fails the run.
func Closing(m interface{ Run() int }) interface{ Run() int } {
	return closing{m}
}

type closing struct{ m interface{ Run() int } }

func (c closing) Run() int {
	code := c.m.Run()
	if err := Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// closeIdle closes the admin connections kept for reuse.
func closeIdle() {
	idle.Lock()
	conns := idle.conns
	idle.conns = nil
	idle.Unlock()
	for _, c := range conns {
		c.Close(context.Background())
	}
}
