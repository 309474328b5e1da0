package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/syncbuf"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// groupDeliveriesDDL is the effects table of group handlers: a record
// delivered twice would violate the primary key; seq is the order of
// delivery, which per stream must be the versions' order.
const groupDeliveriesDDL = `CREATE TABLE gdeliveries (
	record_id text PRIMARY KEY, seq bigint GENERATED ALWAYS AS IDENTITY,
	stream text NOT NULL, version bigint NOT NULL, position bigint NOT NULL, member text NOT NULL)`

func groupDelivery(who string) eventlog.Handler {
	return func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		_, err := tx.Exec(ctx, `INSERT INTO gdeliveries (record_id, stream, version, position, member) VALUES ($1, $2, $3, $4, $5)`,
			r.ID, r.Stream.String(), r.Version, r.Position, who)
		return err
	}
}

func setupGroupDB(t *testing.T, conns int32) (*testBundle, *eventlog.Store) {
	t.Helper()
	tb := newDBConns(t, conns)
	if _, err := tb.pool.Exec(context.Background(), groupDeliveriesDDL); err != nil {
		t.Fatal(err)
	}
	return tb, newStore(t, tb, "b")
}

// heldLog follows a member's partitions through OnPartitions.
type heldLog struct {
	mu   sync.Mutex
	held []int
}

func (h *heldLog) set(p []int) { h.mu.Lock(); h.held = p; h.mu.Unlock() }
func (h *heldLog) get() []int  { h.mu.Lock(); defer h.mu.Unlock(); return slices.Clone(h.held) }

// newMember makes a member of group name with fast polls, following its
// partitions in the returned heldLog.
func newMember(t *testing.T, s *eventlog.Store, name string, partitions int, who string, h eventlog.Handler) (*eventlog.Group, *heldLog) {
	t.Helper()
	hl := &heldLog{}
	if h == nil {
		h = groupDelivery(who)
	}
	g, err := s.NewGroup(name, partitions, h, &eventlog.ConsumerConfig{
		PollInterval: 50 * time.Millisecond, TakeoverPoll: 100 * time.Millisecond, Lease: time.Second,
		BatchSize: 20, OnPartitions: hl.set, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return g, hl
}

// runGroup runs g until the test ends, or until the returned stop is
// called; the channel gets Run's result.
func runGroup(t *testing.T, g *eventlog.Group) (stop func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ch <- g.Run(ctx)
	}()
	stop = func() { cancel(); <-finished }
	t.Cleanup(stop)
	return stop, ch
}

func groupDelivered(t *testing.T, tb *testBundle) int { return rowCount(t, tb, "gdeliveries") }

func waitGroupDelivered(t *testing.T, tb *testBundle, n int, within time.Duration) {
	t.Helper()
	waitRows(t, tb, "gdeliveries", n, within)
}

// checkGroupDeliveries checks that every record in the log was delivered
// once, and each stream's in version order.
func checkGroupDeliveries(t *testing.T, tb *testBundle) {
	t.Helper()
	ctx := context.Background()
	var missing, extra, outOfOrder int
	err := tb.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM eventlog_records r WHERE NOT EXISTS (SELECT 1 FROM gdeliveries d WHERE d.record_id = r.record_id)),
		(SELECT count(*) FROM gdeliveries d WHERE NOT EXISTS (SELECT 1 FROM eventlog_records r WHERE d.record_id = r.record_id)),
		(SELECT count(*) FROM (SELECT version, row_number() OVER (PARTITION BY stream ORDER BY seq) AS n FROM gdeliveries) x WHERE version <> n)`).
		Scan(&missing, &extra, &outOfOrder)
	if err != nil {
		t.Fatal(err)
	}
	if missing != 0 || extra != 0 || outOfOrder != 0 {
		t.Fatalf("%d records not delivered, %d delivered that are not in the log, %d delivered out of their stream's order", missing, extra, outOfOrder)
	}
}

// partitionOf is the partition of st in a group of n partitions, as the
// database computes it.
func partitionOf(t *testing.T, tb *testBundle, st eventlog.Stream, n int) int {
	t.Helper()
	var p int
	if err := tb.pool.QueryRow(context.Background(), `SELECT (hashtextextended($1 || '/' || $2, 0) & 9223372036854775807) % $3`, st.Type, st.ID, n).Scan(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// streamIn returns a stream of type typ in partition p of n.
func streamIn(t *testing.T, tb *testBundle, typ string, p, n int) eventlog.Stream {
	t.Helper()
	for i := 0; ; i++ {
		st := eventlog.Stream{Type: typ, ID: fmt.Sprint(i)}
		if partitionOf(t, tb, st, n) == p {
			return st
		}
	}
}

// TestGroupSoak: writers append to 40 streams in transactions of random
// length, rolling back one in ten, while a group of 4 members with 8
// partitions follows: each committed record is delivered once, each
// stream in order, and every member handles some.
func TestGroupSoak(t *testing.T) {
	tb, s := setupGroupDB(t, 36)
	for i := range 4 {
		g, _ := newMember(t, s, "soak", 8, fmt.Sprint("m", i), nil)
		runGroup(t, g)
	}
	ctx := context.Background()
	const writers = 16
	var committed atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; time.Now().Before(deadline) || committed.Load() < 500; i++ {
				tx, err := tb.pool.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				n := 1 + rng.IntN(3)
				var recs []eventlog.NewRecord
				for k := range n {
					recs = append(recs, eventlog.NewRecord{ID: fmt.Sprintf("w%d-%d-%d", w, i, k), Data: js(i)})
				}
				st := eventlog.Stream{Type: "soak", ID: fmt.Sprint(rng.IntN(40))}
				if _, err := s.AppendTx(ctx, tx, st, recs, nil); err != nil {
					t.Error(err)
					tx.Rollback(ctx)
					return
				}
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				if rng.IntN(10) == 0 {
					tx.Rollback(ctx)
					continue
				}
				if err := tx.Commit(ctx); err != nil {
					t.Error(err)
					return
				}
				committed.Add(int64(n))
			}
		})
	}
	wg.Wait()
	waitGroupDelivered(t, tb, int(committed.Load()), 60*time.Second)
	checkGroupDeliveries(t, tb)
	rows, _ := tb.pool.Query(ctx, `SELECT member FROM gdeliveries GROUP BY member ORDER BY member`)
	members, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(members, ",") != "m0,m1,m2,m3" {
		t.Fatalf("members that handled records: %v, %v; want all four", members, err)
	}
	// Each partition is caught up, and the handled counts add up.
	sts, err := s.Consumers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var handled int64
	for _, st := range sts {
		if st.Name != "soak" || st.Partitions != 8 {
			t.Fatalf("status %+v, want partitions of group soak only", st)
		}
		handled += st.Handled
	}
	if len(sts) != 8 || handled != committed.Load() {
		t.Fatalf("%d partition rows handled %d records, want 8 rows and %d", len(sts), handled, committed.Load())
	}
	t.Logf("%d records committed by %d writers", committed.Load(), writers)
}

// TestGroupFenceHoldsInEveryPartition is the out-of-order commit case in
// each partition: T1 appends to a stream of partition p and stays open, T2
// appends to another stream of the same partition, and T3 to every other
// partition, later, and commit; nothing is delivered until T1 commits,
// then T1's record comes before T2's.
func TestGroupFenceHoldsInEveryPartition(t *testing.T) {
	t.Parallel()
	const parts = 4
	tb, s := setupGroupDB(t, 8)
	g1, h1 := newMember(t, s, "fenced", parts, "a", nil)
	g2, h2 := newMember(t, s, "fenced", parts, "b", nil)
	runGroup(t, g1)
	runGroup(t, g2)
	waitFor(t, "the two members to hold 2 partitions each", 10*time.Second, func() bool { return len(h1.get()) == 2 && len(h2.get()) == 2 })
	ctx := context.Background()
	want := 0
	for p := range parts {
		t1, err := tb.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { t1.Rollback(ctx) })
		st := streamIn(t, tb, fmt.Sprint("p", p), p, parts)
		if _, err := s.AppendTx(ctx, t1, st, []eventlog.NewRecord{{ID: fmt.Sprint("t1-", p), Data: js(1)}}, nil); err != nil {
			t.Fatal(err)
		}
		// Later transactions, one to each partition; the one in partition
		// p goes to another stream (st's lock is T1's until it ends).
		for q := range parts {
			other := streamIn(t, tb, fmt.Sprint("q", p), q, parts)
			if _, err := s.Append(ctx, other, []eventlog.NewRecord{{ID: fmt.Sprint("t2-", p, "-", q), Data: js(2)}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond) // six polls
		if n := groupDelivered(t, tb); n != want {
			t.Fatalf("partition %d: %d records delivered while an older transaction was open, want %d", p, n, want)
		}
		if err := t1.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		want += 1 + parts
		waitGroupDelivered(t, tb, want, 10*time.Second)
		// In partition p, T1's record comes first: the order is by
		// writing transaction.
		var t1First bool
		if err := tb.pool.QueryRow(ctx, `SELECT (SELECT seq FROM gdeliveries WHERE record_id = $1) < (SELECT seq FROM gdeliveries WHERE record_id = $2)`,
			fmt.Sprint("t1-", p), fmt.Sprint("t2-", p, "-", p)).Scan(&t1First); err != nil || !t1First {
			t.Fatalf("partition %d: T1's record was not delivered before T2's (%v)", p, err)
		}
	}
	checkGroupDeliveries(t, tb)
}

// TestGroupFenceWithRecordsBelowIt: the batch's window holds records
// below the fence (R0) and, behind a transaction still open (T1), a
// committed one of the same partition (T2). R0 is delivered, T2 waits for
// T1, and the partition's checkpoint moves up to R0 only.
func TestGroupFenceWithRecordsBelowIt(t *testing.T) {
	t.Parallel()
	const parts = 2
	tb, s := setupGroupDB(t, 8)
	ctx := context.Background()
	st0, st1, st2 := streamIn(t, tb, "r0", 1, parts), streamIn(t, tb, "t1", 1, parts), streamIn(t, tb, "t2", 1, parts)
	if _, err := s.Append(ctx, st0, []eventlog.NewRecord{{ID: "r0", Data: js(0)}}, nil); err != nil {
		t.Fatal(err)
	}
	t1, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { t1.Rollback(ctx) })
	if _, err := s.AppendTx(ctx, t1, st1, []eventlog.NewRecord{{ID: "t1", Data: js(1)}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, st2, []eventlog.NewRecord{{ID: "t2", Data: js(2)}}, nil); err != nil {
		t.Fatal(err)
	}
	g, _ := newMember(t, s, "fenced", parts, "a", nil)
	runGroup(t, g)
	waitGroupDelivered(t, tb, 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // six polls
	if n := groupDelivered(t, tb); n != 1 {
		t.Fatalf("%d records delivered while T1 was open, want R0 only", n)
	}
	if err := t1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitGroupDelivered(t, tb, 3, 10*time.Second)
	rows, _ := tb.pool.Query(ctx, `SELECT record_id FROM gdeliveries ORDER BY seq`)
	order, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(order, ",") != "r0,t1,t2" {
		t.Fatalf("delivery order %v, %v; want r0, t1, t2", order, err)
	}
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGroupRebalances: a member alone holds every partition; members that
// join take their share from it; when one leaves, the others take its
// partitions; at every point each partition has at most one holder and
// every record is delivered once, in stream order.
func TestGroupRebalances(t *testing.T) {
	t.Parallel()
	const parts = 6
	tb, s := setupGroupDB(t, 12)
	ctx := context.Background()
	appendSome := func(round, n int) {
		for i := range n {
			mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 12)}, round)
		}
	}
	// No partition held twice, and none left unheld once settled.
	holders := func(hs ...*heldLog) ([]int, bool) {
		count := make([]int, parts)
		var sizes []int
		for _, h := range hs {
			held := h.get()
			sizes = append(sizes, len(held))
			for _, p := range held {
				if count[p]++; count[p] > 1 {
					t.Fatalf("partition %d held by two members: %v", p, sizes)
				}
			}
		}
		return sizes, !slices.Contains(count, 0)
	}
	a, ha := newMember(t, s, "rb", parts, "a", nil)
	runGroup(t, a)
	waitFor(t, "a to hold every partition", 10*time.Second, func() bool { _, all := holders(ha); return len(ha.get()) == parts && all })
	appendSome(1, 30)
	waitGroupDelivered(t, tb, 30, 10*time.Second)

	b, hb := newMember(t, s, "rb", parts, "b", nil)
	stopB, _ := runGroup(t, b)
	waitFor(t, "a and b to hold 3 each", 10*time.Second, func() bool { sz, all := holders(ha, hb); return all && slices.Equal(sz, []int{3, 3}) })
	c, hc := newMember(t, s, "rb", parts, "c", nil)
	runGroup(t, c)
	waitFor(t, "a, b and c to hold 2 each", 10*time.Second, func() bool {
		sz, all := holders(ha, hb, hc)
		return all && slices.Equal(sz, []int{2, 2, 2})
	})
	appendSome(2, 60)
	waitGroupDelivered(t, tb, 90, 10*time.Second)
	var members int
	if err := tb.pool.QueryRow(ctx, `SELECT count(DISTINCT member) FROM gdeliveries WHERE position > (SELECT max(position) FROM gdeliveries WHERE member = 'a' AND version = 1)`).Scan(&members); err != nil || members < 2 {
		t.Fatalf("%d members handled the second round (%v), want the work split", members, err)
	}
	// b leaves (a deploy stops it): a and c take its partitions.
	stopB()
	waitFor(t, "a and c to hold 3 each after b left", 10*time.Second, func() bool {
		sz, all := holders(ha, hc)
		return all && slices.Equal(sz, []int{3, 3})
	})
	appendSome(3, 30)
	waitGroupDelivered(t, tb, 120, 10*time.Second)
	checkGroupDeliveries(t, tb)
}

// TestGroupPartitionCountIsFixed: a member given another partition count
// than the group's is refused, naming both; a consumer and a group cannot
// share a name.
func TestGroupPartitionCountIsFixed(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	g, h := newMember(t, s, "fixed", 4, "a", nil)
	stop, _ := runGroup(t, g)
	waitFor(t, "the member to hold its partitions", 10*time.Second, func() bool { return len(h.get()) == 4 })
	stop()
	other, _ := newMember(t, s, "fixed", 8, "b", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := other.Run(ctx)
	if !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), `consumer group "fixed" has 4 partitions, and this member was given 8`) {
		t.Fatalf("Run with 8 partitions: %v, want ErrInvalidConfig naming 4 and 8", err)
	}
	var rows int
	if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM eventlog_group_partitions WHERE name = 'fixed'`).Scan(&rows); err != nil || rows != 4 {
		t.Fatalf("%d partition checkpoints (%v), want the 4 untouched", rows, err)
	}
	c, err := s.NewConsumer("fixed", recordDelivery("c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "names a consumer group") {
		t.Fatalf("a consumer named as a group: %v", err)
	}
	c2, err := s.NewConsumer("plain", recordDelivery("c"), &eventlog.ConsumerConfig{OnActive: cancel})
	if err != nil {
		t.Fatal(err)
	}
	c2.Run(ctx)
	g2, _ := newMember(t, s, "plain", 4, "g", nil)
	if err := g2.Run(context.Background()); !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "names a consumer (Store.NewConsumer)") {
		t.Fatalf("a group named as a consumer: %v", err)
	}
	for _, n := range []int{0, -1, eventlog.MaxPartitions + 1} {
		if _, err := s.NewGroup("x", n, groupDelivery("x"), nil); !errors.Is(err, eventlog.ErrInvalidConfig) {
			t.Fatalf("NewGroup with %d partitions: %v, want ErrInvalidConfig", n, err)
		}
	}
	// One slow renewal would lose a lease under two TakeoverPolls.
	if _, err := s.NewGroup("x", 2, groupDelivery("x"), &eventlog.ConsumerConfig{TakeoverPoll: time.Second, Lease: 1500 * time.Millisecond}); !errors.Is(err, eventlog.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "ConsumerConfig.Lease (1.5s) must be at least twice TakeoverPoll (1s)") || !strings.Contains(err.Error(), "set Lease to 2s or more") {
		t.Fatalf("NewGroup with a lease under twice TakeoverPoll: %v", err)
	}
	if _, err := s.NewGroup("x", 2, groupDelivery("x"), &eventlog.ConsumerConfig{TakeoverPoll: time.Second, Lease: 2 * time.Second}); err != nil {
		t.Fatalf("NewGroup with a lease of twice TakeoverPoll: %v", err)
	}
	// The lease is the batch's idle_in_transaction_session_timeout, an
	// int32 of milliseconds: every batch would fail.
	if _, err := s.NewGroup("x", 2, groupDelivery("x"), &eventlog.ConsumerConfig{Lease: 30 * 24 * time.Hour}); !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "ConsumerConfig.Lease is 720h0m0s; use 1ms to 596h31m23.647s") {
		t.Fatalf("NewGroup with a 30-day lease: %v", err)
	}
}

// TestGroupLagPerPartition: with the group stopped, records appended to a
// stream of one partition show as that partition's lag only; the other
// partitions' checkpoints move past the records they do not own.
func TestGroupLagPerPartition(t *testing.T) {
	t.Parallel()
	const parts = 4
	tb, s := setupGroupDB(t, 8)
	g, h := newMember(t, s, "lag", parts, "a", nil)
	stop, _ := runGroup(t, g)
	waitFor(t, "the member to hold its partitions", 10*time.Second, func() bool { return len(h.get()) == parts })
	st := streamIn(t, tb, "o", 2, parts)
	mustAppend(t, s, st, 1)
	waitGroupDelivered(t, tb, 1, 10*time.Second)
	ctx := context.Background()
	// Every partition's checkpoint moves up to the record, and only
	// partition 2 handled it.
	waitFor(t, "every partition to read past the record", 10*time.Second, func() bool {
		sts, err := s.Consumers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range sts {
			if c.Position == 0 {
				return false
			}
		}
		return len(sts) == parts
	})
	stop()
	for i := range 3 {
		mustAppend(t, s, st, i+2)
	}
	time.Sleep(10 * time.Millisecond)
	sts, err := s.Consumers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range sts {
		got = append(got, fmt.Sprintf("%s/%d of %d: handled %d lag %d %v", c.Name, c.Partition, c.Partitions, c.Handled, c.LagRecords, c.LagSeconds > 0))
	}
	want := []string{
		"lag/0 of 4: handled 0 lag 0 false",
		"lag/1 of 4: handled 0 lag 0 false",
		"lag/2 of 4: handled 1 lag 3 true",
		"lag/3 of 4: handled 0 lag 0 false",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("status:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestGroupHandlerFailureStopsNamingTheRecord: a handler that keeps
// failing on one record stops the member with a HandlerError, as it does
// a consumer, the member's checkpoints just before the record: what came
// before it in the log, in any of the member's partitions, is committed;
// what came after it waits.
func TestGroupHandlerFailureStopsNamingTheRecord(t *testing.T) {
	t.Parallel()
	const parts = 2
	tb, s := setupGroupDB(t, 8)
	bad := streamIn(t, tb, "o", 0, parts)
	good := streamIn(t, tb, "o", 1, parts)
	mustAppend(t, s, bad, 1)
	r := mustAppend(t, s, bad, 2)
	mustAppend(t, s, good, 1)
	deliver := groupDelivery("a")
	g, err := s.NewGroup("failing", parts, func(ctx context.Context, tx pgx.Tx, rec *eventlog.Record) error {
		if rec.Position == r.Position {
			return errors.New("boom")
		}
		return deliver(ctx, tx, rec)
	}, &eventlog.ConsumerConfig{MaxAttempts: 3, Backoff: time.Millisecond, PollInterval: 20 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = g.Run(ctx)
	var herr *eventlog.HandlerError
	if !errors.As(err, &herr) || herr.Record.Position != r.Position || herr.Attempts != 3 || herr.Consumer != "failing" {
		t.Fatalf("Run: %v, want a HandlerError on position %d after 3 attempts", err, r.Position)
	}
	if n := groupDelivered(t, tb); n != 1 {
		t.Fatalf("%d delivered, want the bad stream's first record only", n)
	}
	sts, err := s.Consumers(context.Background())
	if err != nil || len(sts) != 2 || sts[0].Handled != 1 || sts[0].LagRecords != 1 || sts[1].Handled != 0 || sts[1].LagRecords != 1 {
		t.Fatalf("status %+v, %v: want partition 0 with 1 handled and the bad record waiting, partition 1 with the good one waiting", sts, err)
	}
}

// TestGroupBehindAPoolerWithoutDirect: with no session to be had, the
// members split the partitions by their leases instead of locks, polling:
// every record is delivered once, each stream in order, by both members,
// and each says once what it does without.
func TestGroupBehindAPoolerWithoutDirect(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, groupDeliveriesDDL); err != nil {
		t.Fatal(err)
	}
	logs := &warnings{}
	s := pooledStore(t, tb, slog.New(logs), nil)
	var hs []*heldLog
	for _, who := range []string{"a", "b"} {
		hl := &heldLog{}
		g, err := s.NewGroup("pooled", 4, groupDelivery(who), &eventlog.ConsumerConfig{
			BatchSize: 7, TakeoverPoll: 100 * time.Millisecond, Lease: time.Second, OnPartitions: hl.set})
		if err != nil {
			t.Fatal(err)
		}
		runGroup(t, g)
		hs = append(hs, hl)
	}
	waitFor(t, "the members to hold 2 partitions each", 10*time.Second, func() bool {
		a, b := hs[0].get(), hs[1].get()
		return len(a) == 2 && len(b) == 2 && !slices.ContainsFunc(a, func(p int) bool { return slices.Contains(b, p) })
	})
	const n = 120
	for i := range n {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 10)}, i)
	}
	waitGroupDelivered(t, tb, n, 30*time.Second)
	checkGroupDeliveries(t, tb)
	var members int
	if err := tb.pool.QueryRow(ctx, `SELECT count(DISTINCT member) FROM gdeliveries`).Scan(&members); err != nil || members != 2 {
		t.Fatalf("%d members delivered (%v), want both", members, err)
	}
	if got := logs.count("eventlog: the pool goes through a connection pooler, which keeps no session: group member"); got != 2 {
		t.Fatalf("the no-session warning was logged %d times, want once per member:\n%s", got, logs)
	}
}

// TestGroupMemberDropsPartitionsWhenItsSessionDies: a member whose
// session (the one holding its partition locks) is ended while it works
// through a steady backlog notices at its next rebalance and starts again
// with a new session, rather than batching partitions it no longer holds
// until the backlog runs out; every record is still delivered once.
func TestGroupMemberDropsPartitionsWhenItsSessionDies(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	ctx := context.Background()
	const total = 2000
	appendBacklog(t, s, 20, total)
	deliver := groupDelivery("a")
	g, _ := newMember(t, s, "dies", 4, "a", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		time.Sleep(2 * time.Millisecond) // the backlog lasts seconds
		return deliver(ctx, tx, r)
	})
	runGroup(t, g)
	pid := func() int {
		var p int
		if err := tb.pool.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM eventlog_group_members WHERE name = 'dies'`).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	waitFor(t, "the member working through the backlog", 10*time.Second, func() bool { return pid() != 0 && groupDelivered(t, tb) > 40 })
	old := pid()
	var ended bool
	if err := tb.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, old).Scan(&ended); err != nil || !ended {
		t.Fatalf("ending the member's session %d: %v %v", old, ended, err)
	}
	waitFor(t, "the member to start again with a new session", 1500*time.Millisecond, func() bool { p := pid(); return p != 0 && p != old })
	if n := groupDelivered(t, tb); n >= total {
		t.Fatalf("the backlog (%d records) ran out before the member noticed; make it longer", n)
	}
	waitGroupDelivered(t, tb, total, 60*time.Second)
	checkGroupDeliveries(t, tb)
}

// A batch that outlasts the lease (slow records in a backlog) keeps it:
// the member renews it while the batch runs, so the other member does not
// find it stale and end its session, and the partitions stay put.
func TestGroupBatchLongerThanTheLease(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	ctx := context.Background()
	const total = 120
	appendBacklog(t, s, 12, total)
	slow := func(who string) eventlog.Handler {
		deliver := groupDelivery(who)
		return func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
			time.Sleep(60 * time.Millisecond) // a batch of 20: 1.2 s, past the 1 s lease
			return deliver(ctx, tx, r)
		}
	}
	a, _ := newMember(t, s, "slow", 4, "a", slow("a"))
	b, _ := newMember(t, s, "slow", 4, "b", slow("b"))
	runGroup(t, a)
	runGroup(t, b)
	pids := func() string {
		var p string
		if err := tb.pool.QueryRow(ctx, `SELECT coalesce(string_agg(pid::text, ',' ORDER BY member), '') FROM eventlog_group_members WHERE name = 'slow'`).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	waitFor(t, "both members with their sessions", 10*time.Second, func() bool { return strings.Count(pids(), ",") == 1 })
	first := pids()
	waitGroupDelivered(t, tb, total, 60*time.Second)
	if now := pids(); now != first {
		t.Fatalf("the members' sessions went from %s to %s: a member was found stale mid-batch and its session ended", first, now)
	}
	checkGroupDeliveries(t, tb)
}

// TestGroupAndConsumerRegisterUnderOneLock: a consumer registering while
// a group of the same name is being registered waits for it, then refuses,
// rather than creating a consumer checkpoint beside the group's.
func TestGroupAndConsumerRegisterUnderOneLock(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A group's registration, caught between its check and its insert.
	tx, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(x'65766c72'::int, hashtext('both'))`); err != nil {
		t.Fatal(err)
	}
	c, err := s.NewConsumer("both", recordDelivery("c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	var consumers int
	if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM eventlog_consumers WHERE name = 'both'`).Scan(&consumers); err != nil || consumers != 0 {
		t.Fatalf("%d consumer checkpoints named both (%v) while a group registers, want the consumer waiting", consumers, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO eventlog_group_partitions (name, partition, partitions) SELECT 'both', p, 2 FROM generate_series(0, 1) p`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "names a consumer group") {
		t.Fatalf("a consumer registered beside a group: %v", err)
	}
}

// TestGroupLagCap: the lag of a group's partitions is read once from the
// earliest checkpoint, MaxLagCount records of the log: partitions at that
// checkpoint, with the log going on past those records, show MaxLagCount;
// one further on counts its own records among them; one past their end is
// counted from its own checkpoint, exactly.
func TestGroupLagCap(t *testing.T) {
	t.Parallel()
	tb, _ := setupGroupDB(t, 4)
	ctx := context.Background()
	const n = eventlog.MaxLagCount + 20000
	if _, err := tb.pool.Exec(ctx, `INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, writer)
		SELECT 'o', i::text, 1, 'r' || i, '{}', 'w' FROM generate_series(1, $1::int) i`, n); err != nil {
		t.Fatal(err)
	}
	// Partitions 0 and 1 at the start; 2 at record 50,000; 3 at record
	// MaxLagCount + 10,000, past the first read's end.
	if _, err := tb.pool.Exec(ctx, `INSERT INTO eventlog_group_partitions (name, partition, partitions, xid, position)
		SELECT 'capped', p, 4, coalesce(r.xid, '0'), coalesce(r.position, 0)
		FROM unnest(ARRAY[0, 1, 2, 3], ARRAY[0, 0, 50000, $1::int + 10000]) AS c(p, at)
		LEFT JOIN eventlog_records r ON r.position = (SELECT min(position) FROM eventlog_records) + c.at - 1`, eventlog.MaxLagCount); err != nil {
		t.Fatal(err)
	}
	own := func(p int, from, to int64) int64 {
		var k int64
		if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM eventlog_records r, (SELECT min(position) - 1 AS base FROM eventlog_records) b
			WHERE r.position > b.base + $2 AND r.position <= b.base + $3
			AND (hashtextextended(r.stream_type || '/' || r.stream_id, 0) & 9223372036854775807) % 4 = $1`, p, from, to).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	want := []int64{eventlog.MaxLagCount, eventlog.MaxLagCount, own(2, 50000, eventlog.MaxLagCount), own(3, eventlog.MaxLagCount+10000, n)}
	// A store whose pool counts the queries reading the partitions'
	// checkpoints: the two windows are read in one.
	pcfg, err := pgxpool.ParseConfig(tb.url)
	if err != nil {
		t.Fatal(err)
	}
	lagQueries := &queryCounter{contains: "eventlog_group_partitions"}
	pcfg.ConnConfig.Tracer, pcfg.MaxConns = lagQueries, 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	counted, err := eventlog.New(pool, &eventlog.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := counted.Consumers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q := lagQueries.n.Load(); q != 1 {
		t.Fatalf("%d queries read the group's lag, want one for both windows", q)
	}
	var got []int64
	for _, st := range sts {
		if st.Name == "capped" {
			got = append(got, st.LagRecords)
			if st.Partition != len(got)-1 || st.LagSeconds <= 0 {
				t.Fatalf("partition row %+v, want partition %d with a lag in seconds", st, len(got)-1)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lag records by partition %v, want %v", got, want)
	}
}

// TestGroupBatchIdleLongerThanTheLeaseIsEnded: a batch's transaction left
// idle longer than the lease (a member frozen mid-batch, here a handler
// that sleeps) is ended by the server, so it cannot hold its checkpoints'
// row locks, and its partitions, for as long as the member is frozen; the
// record is retried and delivered once.
func TestGroupBatchIdleLongerThanTheLeaseIsEnded(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	deliver := groupDelivery("a")
	var slept atomic.Bool
	var failed atomic.Value
	g, _ := newMember(t, s, "idle", 2, "a", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if slept.CompareAndSwap(false, true) {
			time.Sleep(1500 * time.Millisecond) // the lease is 1 s
			if err := deliver(ctx, tx, r); err != nil {
				failed.Store(err.Error())
				return err
			}
			return nil
		}
		return deliver(ctx, tx, r)
	})
	runGroup(t, g)
	for i := range 10 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i)}, i)
	}
	waitGroupDelivered(t, tb, 10, 20*time.Second)
	checkGroupDeliveries(t, tb)
	msg, _ := failed.Load().(string)
	if msg == "" {
		t.Fatal("the write after sleeping past the lease in the batch's transaction succeeded, want the server to have ended the transaction")
	}
}

// TestGroupHandlerIdleLongerThanTheLeaseStopsNamingIt: a handler that
// keeps the batch's transaction idle longer than the lease (slow work
// that is not the database's) has it ended by the server each time; that
// is the handler's failure, not a lost connection to retry for ever: the
// member stops with a HandlerError on the slow record that says so.
func TestGroupHandlerIdleLongerThanTheLeaseStopsNamingIt(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	st := eventlog.Stream{Type: "o", ID: "1"}
	slow := mustAppend(t, s, st, 1)
	mustAppend(t, s, st, 2)
	deliver := groupDelivery("a")
	g, err := s.NewGroup("idler", 2, func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if err := deliver(ctx, tx, r); err != nil {
			return err
		}
		if r.Position == slow.Position {
			time.Sleep(1500 * time.Millisecond) // the lease is 1 s
		}
		return nil
	}, &eventlog.ConsumerConfig{MaxAttempts: 2, Backoff: time.Millisecond, PollInterval: 20 * time.Millisecond,
		TakeoverPoll: 100 * time.Millisecond, Lease: time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = g.Run(ctx)
	var herr *eventlog.HandlerError
	if !errors.As(err, &herr) || herr.Record.Position != slow.Position || herr.Attempts != 2 ||
		!strings.Contains(err.Error(), "the handler held the batch's transaction idle longer than ConsumerConfig.Lease (1s)") {
		t.Fatalf("Run: %v, want a HandlerError on position %d after 2 attempts saying the handler held the transaction idle past the lease", err, slow.Position)
	}
	if n := groupDelivered(t, tb); n != 0 {
		t.Fatalf("%d delivered, want none: each batch's transaction was ended", n)
	}
}

// TestGroupKeepsTheLeaseOfAMemberItCannotEnd: a member whose lease ran out
// long ago but whose session lives on, and which the others may not end
// (here a superuser's session, the others a plain role), keeps its lease
// row: it is how the others find its session and batches, and say they
// cannot end them, for as long as they live. Once its session ends the
// row goes.
func TestGroupKeepsTheLeaseOfAMemberItCannotEnd(t *testing.T) {
	t.Parallel()
	frozen, logs, frozenRow := runBesideFrozenMember(t, "kept", "IN ROLE pg_read_all_stats", false)
	waitFor(t, "the member to say it cannot end the frozen one's session", 10*time.Second, func() bool {
		return logs.count("eventlog: cannot end the session of a group member whose lease ran out") >= 3
	})
	if frozenRow() != 1 {
		t.Fatal("the lease row of a member whose session lives on was deleted")
	}
	if err := frozen.Ping(context.Background()); err != nil {
		t.Fatalf("the superuser's session was ended: %v", err)
	}
	frozen.Close(context.Background())
	waitFor(t, "the row to go with the session", 10*time.Second, func() bool { return frozenRow() == 0 })
}

// runBesideFrozenMember stores the lease of a member of group, run out an
// hour ago, whose session lives on (the superuser's, returned; with
// lockPartition, holding partition 0's lock), and runs a member of the
// group beside it as a new role made with roleOptions. It returns the
// frozen session, the running member's log and the count of the frozen
// member's lease rows.
func runBesideFrozenMember(t *testing.T, group, roleOptions string, lockPartition bool) (*pgx.Conn, *warnings, func() int) {
	t.Helper()
	tb := newDB(t)
	ctx := context.Background()
	frozen, err := pgx.Connect(ctx, migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { frozen.Close(ctx) })
	if lockPartition {
		if _, err := frozen.Exec(ctx, `SELECT pg_advisory_lock($1::bigint)`, eventlog.PartitionLock(group, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := frozen.Exec(ctx, `INSERT INTO eventlog_group_members (name, member, pid, backend_start, expires_at)
		SELECT $1, 'frozen', pid, backend_start, now() - interval '1 hour' FROM pg_stat_activity WHERE pid = pg_backend_pid()`, group); err != nil {
		t.Fatal(err)
	}
	pool := poolAsRole(t, tb, roleOptions)
	logs := &warnings{}
	s, err := eventlog.New(pool, &eventlog.Config{Logger: slog.New(logs), Direct: pool.Config().ConnConfig.Copy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	g, err := s.NewGroup(group, 2, func(context.Context, pgx.Tx, *eventlog.Record) error { return nil }, &eventlog.ConsumerConfig{
		TakeoverPoll: 100 * time.Millisecond, Lease: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runGroup(t, g)
	return frozen, logs, func() int {
		var n int
		if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM eventlog_group_members WHERE name = $1 AND member = 'frozen'`, group).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// queryCounter counts the queries whose SQL contains a string.
type queryCounter struct {
	contains string
	n        atomic.Int64
}

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, q.contains) {
		q.n.Add(1)
	}
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A dead member's row whose pid now belongs to a session this role may not
// see into (here the checkpointer's) is not kept for it: it goes ten
// leases after it ran out, as any dead member's.
func TestGroupForgetsADeadMemberWhosePidIsReused(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, `INSERT INTO eventlog_group_members (name, member, pid, backend_start, expires_at)
		SELECT 'ghosts', 'dead', pid, now() - interval '1 day', now() - interval '1 hour' FROM pg_stat_activity WHERE backend_type = 'checkpointer'`); err != nil {
		t.Fatal(err)
	}
	pool := poolAsRole(t, tb, "")
	s, err := eventlog.New(pool, &eventlog.Config{Logger: quietLogger(), Direct: pool.Config().ConnConfig.Copy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	g, err := s.NewGroup("ghosts", 2, func(context.Context, pgx.Tx, *eventlog.Record) error { return nil }, &eventlog.ConsumerConfig{
		TakeoverPoll: 100 * time.Millisecond, Lease: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runGroup(t, g)
	waitFor(t, "the dead member's row to go", 10*time.Second, func() bool {
		var n int
		if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM eventlog_group_members WHERE name = 'ghosts' AND member = 'dead'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// poolAsRole returns a pool of 4 connections to tb's database as a new
// role, neither superuser nor the tables' owner, with every right on them;
// options are the CREATE ROLE's beside LOGIN. The role goes at the end.
func poolAsRole(t *testing.T, tb *testBundle, options string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	role := fmt.Sprintf("eventlog_test_%08x", rand.Uint32())
	if _, err := tb.pool.Exec(ctx, `CREATE ROLE `+role+` LOGIN `+options); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tb.pool.Exec(ctx, `DROP OWNED BY `+role)
		tb.pool.Exec(ctx, `DROP ROLE `+role)
	})
	if _, err := tb.pool.Exec(ctx, `GRANT ALL ON ALL TABLES IN SCHEMA public TO `+role+`; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO `+role); err != nil {
		t.Fatal(err)
	}
	pcfg, err := pgxpool.ParseConfig(migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.User, pcfg.MaxConns = role, 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// A frozen member's session under another role, which this one may not see
// into, still holds a partition's lock: its row is kept for as long as it
// does (the others say each TakeoverPoll that they cannot end it), and goes
// with it.
func TestGroupKeepsTheLeaseOfAHiddenMemberHoldingAPartition(t *testing.T) {
	t.Parallel()
	frozen, logs, frozenRow := runBesideFrozenMember(t, "hidden", "", true)
	// Ten leases are 2 s: past them, the row of a member with nothing to
	// show for it would be gone.
	time.Sleep(3 * time.Second)
	if frozenRow() != 1 || logs.count("eventlog: a group member's lease ran out while a session with its pid lives on") < 3 {
		t.Fatalf("the frozen member's row: %d, errors logged: %d", frozenRow(), logs.count("eventlog: a group member's lease ran out"))
	}
	frozen.Close(context.Background())
	waitFor(t, "the row to go with the session", 10*time.Second, func() bool { return frozenRow() == 0 })
}

// A handler that does a little slow work for each record, none of it the
// database's, leaves the batch's transaction idle past the lease across
// many calls, none of them that long: the batch shrinks, as for a handler
// error, and every record gets handled.
func TestGroupHandlerIdleAcrossManyCallsShrinksTheBatch(t *testing.T) {
	t.Parallel()
	_, s := setupGroupDB(t, 8)
	for i := range 60 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, i)
	}
	logs := &syncbuf.Buffer{}
	g, err := s.NewGroup("many", 1, func(context.Context, pgx.Tx, *eventlog.Record) error {
		// A batch of 30 calls idles 1.35 s, past the lease of 1 s; one of
		// 15, 0.68 s, leaves room for a loaded machine (at 60 ms, 0.9 s
		// left too little, and the batch shrank again).
		time.Sleep(45 * time.Millisecond)
		return nil
	}, &eventlog.ConsumerConfig{BatchSize: 30, MaxAttempts: 2, Backoff: time.Millisecond, PollInterval: 20 * time.Millisecond,
		TakeoverPoll: 100 * time.Millisecond, Lease: time.Second, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runGroup(t, g)
	ctx := context.Background()
	waitFor(t, "every record handled", 30*time.Second, func() bool {
		sts, err := s.Consumers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var handled int64
		for _, st := range sts {
			if st.Name == "many" {
				handled += st.Handled
			}
		}
		return handled == 60
	})
	// Once: the batches of 15 stay that small while the handler is this
	// slow, rather than going back to 30 and rolling back again.
	if n := strings.Count(logs.String(), "handling fewer records at a time"); n != 1 {
		t.Errorf("the batch shrank %d times, want once; log:\n%s", n, logs)
	}
}

// appendBacklog appends total records over streams streams of type "o"
// ("0", "1", ...), total/streams each in one append.
func appendBacklog(t *testing.T, s *eventlog.Store, streams, total int) {
	t.Helper()
	for i := range streams {
		recs := make([]eventlog.NewRecord, total/streams)
		for j := range recs {
			recs[j] = rec(j)
		}
		if _, err := s.Append(context.Background(), eventlog.Stream{Type: "o", ID: fmt.Sprint(i)}, recs, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A group member's batch that meets lock_timeout on its partitions'
// checkpoint rows, held by another transaction, tries again as after a
// lost connection: its Run does not return, and every record comes.
func TestGroupMemberOutlastsALockTimeoutOnItsCheckpoints(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	withLockTimeout(t, tb, 300*time.Millisecond)
	w := &warnings{}
	g, err := s.NewGroup("locked", 2, groupDelivery("m"), &eventlog.ConsumerConfig{
		PollInterval: 50 * time.Millisecond, TakeoverPoll: 100 * time.Millisecond, Lease: time.Second, Logger: slog.New(w)})
	if err != nil {
		t.Fatal(err)
	}
	_, done := runGroup(t, g)
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	waitGroupDelivered(t, tb, 1, 10*time.Second)
	lockWhileDue(t, tb, s, eventlog.Stream{Type: "o", ID: "2"}, `SELECT 1 FROM eventlog_group_partitions WHERE name = 'locked' FOR UPDATE`, func() bool {
		return w.count("eventlog: group member lost its connection or hit a passing database error") > 0 || len(done) > 0
	})
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "3"}, 3)
	waitRowsWhileRunning(t, tb, "gdeliveries", 3, done, 10*time.Second)
	checkGroupDeliveries(t, tb)
}
