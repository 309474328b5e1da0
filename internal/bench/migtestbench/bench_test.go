// Package migtestbench compares migtest with github.com/peterldowns/pgtestdb
// on the same server and the same migrations. It is a separate package so
// that no library package imports pgtestdb.
//
//	go test -run '^$' -bench . -benchtime 200x ./internal/bench/migtestbench/
package migtestbench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/peterldowns/pgtestdb"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// twenty tables with indexes: a small service's schema.
func schema() migcheck.Set {
	fsys := fstest.MapFS{}
	for i := 1; i <= 20; i++ {
		fsys[fmt.Sprintf("%04d_t%d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"CREATE TABLE t%d (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n"+
				"CREATE INDEX t%d_name ON t%d (name);", i, i, i))}
	}
	return migcheck.Set{Name: "bench", FS: fsys}
}

// iterTB is one "test" inside a benchmark loop: it keeps its cleanups so
// each iteration's database is dropped before the next.
type iterTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func (t *iterTB) Cleanup(f func()) { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }
func (t *iterTB) Failed() bool     { return false }
func (t *iterTB) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

type newFunc func(t testing.TB) func(ctx context.Context) error // returns a query on the new database

func viaMigtest(set migcheck.Set) newFunc {
	return func(t testing.TB) func(context.Context) error {
		db := migtest.New(t, set)
		return func(ctx context.Context) error { return ping(ctx, db) }
	}
}

func viaPgtestdb(set migcheck.Set, server string) newFunc {
	u, _ := url.Parse(server)
	pw, _ := u.User.Password()
	conf := pgtestdb.Config{DriverName: "pgx", Host: u.Hostname(), Port: u.Port(), User: u.User.Username(), Password: pw,
		Database: "postgres", Options: "sslmode=disable"}
	mig := &migrator{set: set}
	return func(t testing.TB) func(context.Context) error {
		db := pgtestdb.New(t, conf, mig)
		return func(ctx context.Context) error {
			var n int
			return db.QueryRowContext(ctx, "SELECT count(*) FROM t1").Scan(&n)
		}
	}
}

func ping(ctx context.Context, db *pgxpool.Pool) error {
	var n int
	return db.QueryRow(ctx, "SELECT count(*) FROM t1").Scan(&n)
}

// migrator applies the set with migcheck for pgtestdb, so both tools build
// the same template.
type migrator struct{ set migcheck.Set }

func (m *migrator) Hash() (string, error) {
	migs, err := m.set.Migrations()
	if err != nil {
		return "", err
	}
	h := "pgtestdb"
	for _, mg := range migs {
		h += mg.SHA256[:8]
	}
	return fmt.Sprintf("%x", h)[:32], nil
}

func (m *migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := pgxpool.New(ctx, conf.URL())
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = migcheck.Apply(ctx, pool, m.set)
	return err
}

// BenchmarkNewDatabase measures the time from asking for a database to
// running a first query on it, per test, one test after another. The test's
// cleanup (drop, and for migtest the replacement clone) is timed as part of
// ns/op but not of the p50.
func BenchmarkNewDatabase(b *testing.B) {
	srv, err := pglocal.Find(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	set := schema()
	for _, c := range []struct {
		name string
		new  newFunc
	}{
		{"migtest", viaMigtest(set)},
		{"pgtestdb", viaPgtestdb(set, srv.URL)},
	} {
		b.Run(c.name, func(b *testing.B) {
			warm := &iterTB{TB: b}
			if err := c.new(warm)(context.Background()); err != nil { // builds the template
				b.Fatal(err)
			}
			warm.done()
			var lat []time.Duration
			b.ResetTimer()
			for b.Loop() {
				t := &iterTB{TB: b}
				start := time.Now()
				if err := c.new(t)(context.Background()); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				t.done()
			}
			report(b, lat)
		})
	}
}

// BenchmarkNewDatabaseBurst asks for 8 databases at once, as 8 parallel
// tests starting together do: more than migtest keeps ready.
func BenchmarkNewDatabaseBurst(b *testing.B) {
	srv, err := pglocal.Find(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	set := schema()
	for _, c := range []struct {
		name string
		new  newFunc
	}{
		{"migtest", viaMigtest(set)},
		{"pgtestdb", viaPgtestdb(set, srv.URL)},
	} {
		b.Run(c.name, func(b *testing.B) {
			warm := &iterTB{TB: b}
			c.new(warm)(context.Background())
			warm.done()
			var mu sync.Mutex
			var lat []time.Duration
			for b.Loop() {
				var wg sync.WaitGroup
				tbs := make([]*iterTB, 8)
				for i := range tbs {
					tbs[i] = &iterTB{TB: b}
					wg.Go(func() {
						start := time.Now()
						if err := c.new(tbs[i])(context.Background()); err != nil {
							b.Error(err)
						}
						mu.Lock()
						lat = append(lat, time.Since(start))
						mu.Unlock()
					})
				}
				wg.Wait()
				for _, t := range tbs {
					wg.Go(t.done)
				}
				wg.Wait()
			}
			report(b, lat)
		})
	}
}

func report(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.9), "p90-ms")
}
