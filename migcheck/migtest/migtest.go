package migtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// Ready is how many cloned databases per template migtest keeps waiting on
// the server, so that New hands one out instead of cloning while the test
// waits. They outlive the test binary and serve the next run.
const Ready = 4

// PoolSize is the most connections a pool from [New] opens. pgxpool's own
// default grows with the machine's cores, and so does the number of tests
// go test runs at once: on a large machine the two multiply past
// PostgreSQL's default max_connections (100). A test that needs more
// connections takes [NewURL] and sizes its own pool.
const PoolSize = 4

// New returns a pool of at most [PoolSize] connections on a database of the
// test's own, migrated with sets (none gives an empty database). The
// database is dropped when the test ends, unless the test failed: then its
// URL is logged and it is kept for inspection. The server is the one
// internal/pglocal finds.
func New(t testing.TB, sets ...migcheck.Set) *pgxpool.Pool {
	t.Helper()
	url := NewURL(t, sets...)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	cfg.MaxConns = PoolSize
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the drop registered by NewURL
	return pool
}

// NewURL is [New] for callers who connect themselves: it returns the URL of
// the test's database. When the tests run behind a pooler (TEST_POOLER, see
// internal/pglocal), the URL goes through it; [DirectURL] gives the
// database's direct URL.
func NewURL(t testing.TB, sets ...migcheck.Set) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, err := get(ctx, sets)
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	t.Cleanup(func() {
		<-db.refilled // no goroutine outlives the test
		if t.Failed() {
			t.Logf("migtest: test failed; kept its database for inspection: %s", db.url)
			return
		}
		if err := db.tpl.drop(db.name); err != nil {
			t.Errorf("migtest: dropping %s: %v", db.name, err)
		}
	})
	pooled, err := pooledURL(db.url)
	if err != nil {
		t.Fatalf("migtest: %v", err)
	}
	return pooled
}

// direct maps the pooled URLs NewURL handed out to the direct ones.
var direct sync.Map

// DirectURL returns the direct URL of the database url (from [NewURL])
// names: url itself unless the tests run behind a pooler. Code that needs a
// session of its own (migrations, LISTEN) connects with it.
func DirectURL(url string) string {
	if d, ok := direct.Load(url); ok {
		return d.(string)
	}
	return url
}

func pooledURL(directURL string) (string, error) {
	mu.Lock()
	srv := server
	mu.Unlock()
	u, err := srv.PooledURL(directURL)
	if err != nil {
		return "", err
	}
	if u != directURL {
		direct.Store(u, directURL)
	}
	return u, nil
}

type database struct {
	name, url string
	tpl       *template
	refilled  chan struct{}
}

func get(ctx context.Context, sets []migcheck.Set) (*database, error) {
	hash, err := contentHash(sets)
	if err != nil {
		return nil, err
	}
	tpl, err := templateFor(ctx, hash, sets)
	if err != nil {
		return nil, err
	}
	if err := tpl.ensure(ctx); err != nil {
		return nil, err
	}
	name, err := tpl.claim(ctx)
	if err != nil {
		return nil, err
	}
	db := &database{name: name, url: tpl.urlOf(name), tpl: tpl, refilled: make(chan struct{})}
	go func() {
		defer close(db.refilled)
		tpl.refill()
	}()
	return db, nil
}

// contentHash identifies a template: the sets' names, tables and file
// checksums.
func contentHash(sets []migcheck.Set) (string, error) {
	h := sha256.New()
	io.WriteString(h, "migtest v1\n")
	for _, s := range sets {
		migs, err := s.Migrations()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "set %q table %q\n", s.Name, s.Table)
		for _, m := range migs {
			fmt.Fprintf(h, "%d %s %s\n", m.Version, m.File, m.SHA256)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func randomSuffix() string {
	b := make([]byte, 5)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lockKey is the advisory lock under which a template is built, so parallel
// test binaries build it once.
func lockKey(hash string) int64 {
	sum := sha256.Sum256([]byte("migtest template " + hash))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// admin connections to the server's postgres database, reused between
// calls. Plain connections, not a pool, so nothing runs in the background.
var idle struct {
	sync.Mutex
	conns []*pgx.Conn
}

func withAdmin(ctx context.Context, url string, f func(*pgx.Conn) error) error {
	idle.Lock()
	var c *pgx.Conn
	if n := len(idle.conns); n > 0 {
		c, idle.conns = idle.conns[n-1], idle.conns[:n-1]
	}
	idle.Unlock()
	if c == nil {
		var err error
		if c, err = pgx.Connect(ctx, url); err != nil {
			return err
		}
	}
	err := f(c)
	if err != nil || c.IsClosed() {
		c.Close(context.Background())
		return err
	}
	idle.Lock()
	if len(idle.conns) < 4 {
		idle.conns = append(idle.conns, c)
		c = nil
	}
	idle.Unlock()
	if c != nil {
		c.Close(context.Background())
	}
	return nil
}
