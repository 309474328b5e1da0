package standby_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

// pair starts a primary and a streaming standby of it, and returns a pool
// on each.
func pair(t *testing.T) (primary, stby *pgxpool.Pool, standbyURL string) {
	t.Helper()
	p, s := migtest.Standby(t)
	return pool(t, p), pool(t, s), s
}

func pool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	db, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func exec(t *testing.T, db *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, db *pgxpool.Pool, sql string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// writer inserts into orders every 5 ms (200 a second) until stopped, and
// counts the rows it committed.
//
// It stops at a flag, not by a cancelled context: an insert whose caller
// gave up may still commit on the server after stop returned, and a count
// taken then would miss it.
func writer(t *testing.T, db *pgxpool.Pool) (committed *atomic.Int64, stop func()) {
	committed = &atomic.Int64{}
	var stopped atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			if stopped.Load() {
				return
			}
			if _, err := db.Exec(context.Background(), `INSERT INTO orders (note) VALUES ('x')`); err == nil {
				committed.Add(1)
			}
		}
	})
	return committed, func() { stopped.Store(true); wg.Wait() }
}

// The deploy's story: hold under writes, a migration that drops a table,
// the table still on the standby, then release and catch up.
func TestHoldKeepsTheStandbyAsItWasUntilRelease(t *testing.T) {
	ctx := context.Background()
	primary, stby, _ := pair(t)
	exec(t, primary, `CREATE TABLE orders (id bigserial PRIMARY KEY, note text)`)
	committed, stopWriting := writer(t, primary)
	defer stopWriting()
	time.Sleep(200 * time.Millisecond)

	p, err := standby.New(primary, stby, &standby.Config{Deploy: "v2", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	before := committed.Load()
	hold, err := p.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hold.State != "held" || hold.Deploy != "v2" || hold.Standby != "standby" || hold.LSN == 0 {
		t.Fatalf("hold %+v", hold)
	}
	st, err := p.Status(ctx)
	if err != nil || !st.Held() || !st.Paused || st.Receiver != "" || st.Hold == nil || st.Hold.State != "held" {
		t.Fatalf("status after hold: %+v %v", st, err)
	}
	// Verify run against the standby (a read replica) reads its copy of
	// the records without failing.
	if holds, err := standby.Holds(ctx, stby); err != nil || len(holds) != 1 {
		t.Fatalf("holds read on the standby: %+v %v", holds, err)
	}
	// Every row committed before the hold is on the standby.
	onStandby := count(t, stby, `SELECT count(*) FROM orders`)
	if onStandby < before {
		t.Fatalf("%d rows on the held standby, %d were committed before the hold", onStandby, before)
	}

	// The migration: the standby keeps the table, and no more rows.
	exec(t, primary, `DROP TABLE orders`)
	exec(t, primary, `CREATE TABLE orders (id bigserial PRIMARY KEY, note text)`)
	time.Sleep(300 * time.Millisecond)
	if n := count(t, stby, `SELECT count(*) FROM orders`); n != onStandby {
		t.Fatalf("the held standby moved: %d rows, then %d", onStandby, n)
	}

	if err := p.Release(ctx); err != nil {
		t.Fatal(err)
	}
	stopWriting()
	want := count(t, primary, `SELECT count(*) FROM orders`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// While it replays the DROP and the CREATE, the table may be gone.
		var n int64
		err := stby.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n)
		if err == nil && n == want {
			break
		}
		if time.Now().After(deadline) {
			st, _ := p.Status(ctx)
			t.Fatalf("the released standby did not catch up: %d rows of %d (%v); %+v", n, want, err, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	holds, err := standby.Holds(ctx, primary)
	if err != nil || len(holds) != 1 || holds[0].State != "released" || holds[0].ReleasedAt == nil {
		t.Fatalf("holds after release: %+v %v", holds, err)
	}
}

// After a destructive deploy, the held standby is promoted: it takes
// writes and has the dropped table with every row committed before the
// hold, none of the deploy's changes.
func TestPromoteTheHeldStandby(t *testing.T) {
	ctx := context.Background()
	primary, stby, _ := pair(t)
	exec(t, primary, `CREATE TABLE orders (id bigserial PRIMARY KEY, note text)`)
	exec(t, primary, `INSERT INTO orders (note) SELECT 'before' FROM generate_series(1, 1000)`)
	p, err := standby.New(primary, stby, &standby.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := standby.Promote(ctx, stby, nil); !errors.Is(err, standby.ErrNotHeld) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("promoting a standby not held: %v, want ErrNotHeld naming --force", err)
	}
	if _, err := p.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, primary, `INSERT INTO orders (note) VALUES ('after')`)
	exec(t, primary, `DROP TABLE orders`)
	res, err := standby.Promote(ctx, stby, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.WasHeld || res.LSN == 0 || res.Took <= 0 {
		t.Fatalf("promoted %+v", res)
	}
	if n := count(t, stby, `SELECT count(*) FROM orders WHERE note = 'before'`); n != 1000 {
		t.Fatalf("%d rows from before the hold on the promoted server, want 1000", n)
	}
	if n := count(t, stby, `SELECT count(*) FROM orders WHERE note = 'after'`); n != 0 {
		t.Fatalf("a row from after the hold reached the promoted server")
	}
	exec(t, stby, `INSERT INTO orders (note) VALUES ('on the new primary')`)
	// On the new primary the hold is over: nothing warns about it.
	if holds, err := standby.Holds(ctx, stby); err != nil || len(holds) != 1 || holds[0].State != "released" {
		t.Fatalf("holds on the promoted server: %+v %v, want the one hold released", holds, err)
	}
	if _, err := standby.Promote(ctx, stby, nil); !errors.Is(err, standby.ErrNotStandby) {
		t.Fatalf("promoting a primary: %v, want ErrNotStandby", err)
	}
}

// A standby that cannot stream is not held: Hold gives up after its
// timeout, saying so. The primary given as the standby, and a standby of
// another cluster, are refused before anything is done.
func TestHoldRefusesWhatItCannotHold(t *testing.T) {
	ctx := context.Background()
	primary, stby, _ := pair(t)

	p, err := standby.New(primary, primary, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Hold(ctx); !errors.Is(err, standby.ErrNotStandby) || !strings.Contains(err.Error(), "--standby-url") {
		t.Fatalf("the primary as its own standby: %v, want ErrNotStandby", err)
	}
	p, _ = standby.New(stby, stby, nil)
	if _, err := p.Hold(ctx); !errors.Is(err, standby.ErrNotPrimary) || !strings.Contains(err.Error(), "--database-url") {
		t.Fatalf("the standby as the primary: %v, want ErrNotPrimary", err)
	}
	other, err := pglocal.StartThrowaway(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	p, _ = standby.New(pool(t, other.URL), stby, nil)
	if _, err := p.Hold(ctx); !errors.Is(err, standby.ErrNotItsStandby) {
		t.Fatalf("a standby of another cluster: %v, want ErrNotItsStandby", err)
	}
	if holds, err := standby.Holds(ctx, primary); err != nil || len(holds) != 0 {
		t.Fatalf("a refused hold left records: %+v %v", holds, err)
	}

	// Cut the standby off its primary, then write.
	exec(t, stby, `ALTER SYSTEM SET primary_conninfo = 'host=/nonexistent port=1'`)
	exec(t, stby, `SELECT pg_reload_conf()`)
	deadline := time.Now().Add(30 * time.Second)
	for count(t, stby, `SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'`) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the standby still streams with a broken primary_conninfo")
		}
		time.Sleep(20 * time.Millisecond)
	}
	exec(t, primary, `CREATE TABLE later AS SELECT 1 AS x`)
	p, _ = standby.New(primary, stby, &standby.Config{Timeout: time.Second})
	_, err = p.Hold(ctx)
	if !errors.Is(err, standby.ErrTimeout) || !strings.Contains(err.Error(), "not streaming") {
		t.Fatalf("holding a standby that cannot stream: %v, want ErrTimeout saying it is not streaming", err)
	}
	st, err := p.Status(ctx)
	if err != nil || st.Held() || st.Hold == nil || st.Hold.State != "holding" {
		t.Fatalf("after the timed-out hold: %+v %v; want not held, recorded as holding", st, err)
	}
}

func TestLSN(t *testing.T) {
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := standby.ParseLSN(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLSN(%q) = %v, %v", s, l, err)
		}
	}
	if _, err := standby.ParseLSN("12"); err == nil {
		t.Error("ParseLSN(12) is not an error")
	}
	var _ pgx.Row // the package reads rows through pgx
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
