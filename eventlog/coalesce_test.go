package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// Many writers at once: appends share statements, yet every caller gets
// its own answer (success, version conflict, or duplicate), versions stay
// gapless, and each result matches what was stored.
func TestConcurrentAppendsShareCommitsAndKeepTheirOwnOutcomes(t *testing.T) {
	t.Parallel()
	tb := newDBConns(t, 8)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	const writers, each = 32, 25
	// Stored before the rush, so that retries of it are duplicates.
	first := eventlog.NewRecord{ID: "retried-1", Data: js("first")}
	if _, err := s.Append(ctx, eventlog.Stream{Type: "dup", ID: "1"}, []eventlog.NewRecord{first}, nil); err != nil {
		t.Fatal(err)
	}

	type outcome struct {
		res *eventlog.AppendResult
		err error
	}
	var mu sync.Mutex
	own := map[eventlog.Stream][]outcome{}
	var conflicts, duplicates int
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			st := eventlog.Stream{Type: "own", ID: fmt.Sprint(w)}
			for i := range each {
				// Every writer's stream grows with Exactly; every fifth
				// call also makes a wrong expectation on its own stream,
				// and every seventh retries the stored id.
				res, err := s.Append(ctx, st, []eventlog.NewRecord{rec(i), rec(-i)}, &eventlog.AppendOpts{Expected: eventlog.Exactly(int64(2 * i))})
				mu.Lock()
				own[st] = append(own[st], outcome{res, err})
				mu.Unlock()
				if i%5 == 0 {
					_, err := s.Append(ctx, st, []eventlog.NewRecord{rec("late")}, &eventlog.AppendOpts{Expected: eventlog.Exactly(int64(2 * i))})
					var vc *eventlog.VersionConflictError
					if !errors.As(err, &vc) || vc.Actual != int64(2*i+2) {
						t.Errorf("writer %d: stale expectation: %v, want a conflict at %d", w, err, 2*i+2)
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				}
				if i%7 == 0 {
					res, err := s.Append(ctx, eventlog.Stream{Type: "dup", ID: "1"}, []eventlog.NewRecord{first}, nil)
					if err != nil || !res.Duplicate || res.Version != 1 {
						t.Errorf("writer %d: retry of a stored id: %+v, %v", w, res, err)
					}
					mu.Lock()
					duplicates++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for st, outs := range own {
		for i, o := range outs {
			if o.err != nil {
				t.Fatalf("%s call %d: %v", st, i, o.err)
			}
			if o.res.FirstVersion != int64(2*i+1) || o.res.Version != int64(2*i+2) {
				t.Fatalf("%s call %d: versions %d-%d, want %d-%d", st, i, o.res.FirstVersion, o.res.Version, 2*i+1, 2*i+2)
			}
			var pos int64
			if err := tb.pool.QueryRow(ctx, `SELECT position FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND version = $3`,
				st.Type, st.ID, o.res.Version).Scan(&pos); err != nil || pos != o.res.Position {
				t.Fatalf("%s call %d: result position %d, stored %d (%v)", st, i, o.res.Position, pos, err)
			}
		}
	}
	if n := count(t, tb, "stream_type = 'own'"); n != writers*each*2 {
		t.Fatalf("%d records on the writers' streams, want %d", n, writers*each*2)
	}
	if n := count(t, tb, "stream_type = 'dup'"); n != 1 {
		t.Fatalf("%d records on the retried stream, want 1", n)
	}
	var gaps int
	if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT stream_id, max(version) - count(*) AS gap
		FROM eventlog_records GROUP BY stream_type, stream_id) g WHERE gap <> 0`).Scan(&gaps); err != nil || gaps != 0 {
		t.Fatalf("%d streams with gaps (%v)", gaps, err)
	}
	// The point of sharing: fewer transactions than appends.
	var xids int
	if err := tb.pool.QueryRow(ctx, `SELECT count(DISTINCT xid) FROM eventlog_records WHERE stream_type = 'own'`).Scan(&xids); err != nil {
		t.Fatal(err)
	}
	if xids >= writers*each {
		t.Fatalf("%d appends took %d transactions: none shared a commit", writers*each, xids)
	}
	t.Logf("%d appends in %d transactions; %d conflicts and %d duplicates answered", writers*each, xids, conflicts, duplicates)
}

// A stream whose lock is held by a caller's open transaction holds back
// only its own appends: the shared statements skip it and go on.
func TestALockedStreamDoesNotHoldBackOthers(t *testing.T) {
	t.Parallel()
	tb := newDBConns(t, 8)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	held := eventlog.Stream{Type: "held", ID: "1"}
	tx, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := s.AppendTx(ctx, tx, held, []eventlog.NewRecord{rec("in tx")}, nil); err != nil {
		t.Fatal(err)
	}

	heldDone := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, held, []eventlog.NewRecord{rec("after tx")}, &eventlog.AppendOpts{Expected: eventlog.Exactly(1)})
		heldDone <- err
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 16 {
		wg.Go(func() {
			for i := range 4 {
				if _, err := s.Append(ctx, eventlog.Stream{Type: "free", ID: fmt.Sprint(w)}, []eventlog.NewRecord{rec(i)}, nil); err != nil {
					errs <- err
				}
			}
		})
	}
	others := make(chan struct{})
	go func() { wg.Wait(); close(others) }()
	select {
	case <-others:
	case <-time.After(20 * time.Second):
		t.Fatal("appends to other streams waited for the open transaction")
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	select {
	case err := <-heldDone:
		t.Fatalf("the append to the locked stream finished before the lock holder committed: %v", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-heldDone; err != nil {
		t.Fatalf("append after the lock holder committed: %v", err)
	}
	if n := count(t, tb, "stream_type = 'free'"); n != 64 {
		t.Fatalf("%d records on the free streams, want 64", n)
	}
}

// A caller that gives up gets its context's error at once, and the others
// are unaffected.
func TestAppendHonoursACancelledContext(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, eventlog.Stream{Type: "x", ID: "1"}, []eventlog.NewRecord{rec(1)}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a cancelled context: %v, want context.Canceled", err)
	}
	res := mustAppend(t, s, eventlog.Stream{Type: "x", ID: "2"}, 2)
	if res.Version != 1 {
		t.Fatalf("next append: %+v", res)
	}
}

// Close may run while appends still arrive (a shutdown racing the last
// requests): it returns without disturbing them, and the Store stays
// usable.
func TestCloseWhileAppending(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				if _, err := s.Append(context.Background(), eventlog.Stream{Type: "c", ID: fmt.Sprint(w)}, []eventlog.NewRecord{rec(i)}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	closes := 0
	for running := true; running; closes++ {
		select {
		case <-done:
			running = false
		default:
		}
		s.Close()
	}
	if n := count(t, tb, "stream_type = 'c'"); n != 8*40 {
		t.Fatalf("%d records after %d closes, want %d", n, closes, 8*40)
	}
}
