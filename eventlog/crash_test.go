package eventlog_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

const effectsDDL = `CREATE TABLE effects (position bigint PRIMARY KEY, consumer text NOT NULL)`

func effectsBy(t *testing.T, tb *testBundle) map[string][]int64 {
	t.Helper()
	rows, err := tb.pool.Query(context.Background(), `SELECT consumer, position FROM effects ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int64{}
	for rows.Next() {
		var who string
		var pos int64
		if err := rows.Scan(&who, &pos); err != nil {
			t.Fatal(err)
		}
		out[who] = append(out[who], pos)
	}
	return out
}

func waitEffects(t *testing.T, tb *testBundle, n int, within time.Duration) map[string][]int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := effectsBy(t, tb)
		total := 0
		for _, ps := range got {
			total += len(ps)
		}
		if total == n {
			return got
		}
		if total > n || time.Now().After(deadline) {
			t.Fatalf("effects %v, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumerProcessKilledBetweenHandlingAndCheckpoint kills a consumer
// process after its handler ran on a record but before the transaction
// with the checkpoint committed. The next process gets the record again,
// and the handler's effect exists once.
func TestConsumerProcessKilledBetweenHandlingAndCheckpoint(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, effectsDDL); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, tb, "b")
	var pos []int64
	for i := range 5 {
		pos = append(pos, mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i)}, i).Position)
	}
	// The child handles batches of 2: p0 and p1 commit, then it hangs
	// after handling p2.
	first := startConsumerProcess(t, tb.url, "first", fmt.Sprintf("%s=%d", hangAtEnv, pos[2]))
	first.WaitPrefix(fmt.Sprintf("hanging %d", pos[2]), 30*time.Second)
	first.Kill()

	// What committed is the batches before the one with p2: p0 and p1, or
	// only p0 when the fence (other transactions on the server) held p1
	// back from the first batch.
	got := effectsBy(t, tb)
	k := len(got["first"])
	if len(got) != 1 || k < 1 || k > 2 || fmt.Sprint(got["first"]) != fmt.Sprint(pos[:k]) {
		t.Fatalf("effects after the kill: %v, want first: %v or %v", got, pos[:1], pos[:2])
	}
	second := startConsumerProcess(t, tb.url, "second")
	second.WaitPrefix(fmt.Sprintf("handled %d", pos[2]), 30*time.Second) // redelivered
	got = waitEffects(t, tb, 5, 30*time.Second)
	if fmt.Sprint(got["first"]) != fmt.Sprint(pos[:k]) || fmt.Sprint(got["second"]) != fmt.Sprint(pos[k:]) {
		t.Fatalf("effects %v", got)
	}
	sts, err := s.Consumers(ctx)
	if err != nil || len(sts) != 1 || sts[0].Handled != 5 || sts[0].LagRecords != 0 {
		t.Fatalf("checkpoint %+v, %v", sts, err)
	}
}

// TestStandbyTakesOverFromAKilledProcess: a consumer process is active; an
// instance of the same name in this process waits as standby, handles
// nothing, and takes over within a bounded time when the process is killed.
func TestStandbyTakesOverFromAKilledProcess(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, effectsDDL); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, tb, "b")
	active := startConsumerProcess(t, tb.url, "process")
	active.WaitPrefix("active", 30*time.Second)

	became := make(chan time.Time, 1)
	standby, err := s.NewConsumer("projector", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		_, err := tx.Exec(ctx, `INSERT INTO effects (position, consumer) VALUES ($1, 'standby')`, r.Position)
		return err
	}, &eventlog.ConsumerConfig{
		TakeoverPoll: 100 * time.Millisecond,
		PollInterval: 100 * time.Millisecond,
		OnActive:     func() { became <- time.Now() },
		Logger:       quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, standby)
	for i := range 6 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i)}, i)
	}
	got := waitEffects(t, tb, 6, 30*time.Second)
	if len(got["process"]) != 6 {
		t.Fatalf("effects while the process is active: %v", got)
	}
	select {
	case <-became:
		t.Fatal("the standby became active while the process held the lock")
	case <-time.After(300 * time.Millisecond):
	}
	killed := time.Now()
	active.Kill()
	var at time.Time
	select {
	case at = <-became:
	case <-time.After(5 * time.Second):
		t.Fatal("the standby did not take over within 5s")
	}
	if took := at.Sub(killed); took > 2*time.Second {
		t.Fatalf("takeover took %v, want under 2s with TakeoverPoll 100ms", took)
	} else {
		t.Logf("takeover took %v", took)
	}
	for i := range 3 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: "after" + fmt.Sprint(i)}, i)
	}
	got = waitEffects(t, tb, 9, 30*time.Second)
	if len(got["standby"]) != 3 || !strings.HasPrefix(fmt.Sprint(got), "map[process:") {
		t.Fatalf("effects after takeover: %v", got)
	}
}
