package eventlog_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// groupHangAfterEnv makes a group process's handler block, before the
// batch commits, on every record after the first n it handled.
const groupHangAfterEnv = "EVENTLOG_TEST_GROUP_HANG_AFTER"

// groupStallAfterEnv makes a group process's handler, on every record
// after the first n it handled, run a statement that does not end in the
// batch's transaction: the transaction is active, not idle.
const groupStallAfterEnv = "EVENTLOG_TEST_GROUP_STALL_AFTER"

// groupChild is the scenario "group" with args [who, members]: it runs
// that many members of group "projector" (4 partitions) in this process.
// Each handler records the record in table gdeliveries as who/<member>
// and prints "partitions <member> <held>" when its partitions change.
// With EVENTLOG_TEST_GROUP_HANG_AFTER=n, once the process has handled n
// records its handlers print "hanging <position>" and block, their batch
// open, waiting to be killed. With EVENTLOG_TEST_GROUP_STALL_AFTER=n they
// print "stalling <position>" and run pg_sleep(3600) in the batch's
// transaction instead.
func groupChild(args []string) int {
	who := args[0]
	members, _ := strconv.Atoi(args[1])
	ctx := context.Background()
	store, pool, err := childStore(ctx)
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	defer pool.Close()
	hangAfter, _ := strconv.ParseInt(os.Getenv(groupHangAfterEnv), 10, 64)
	stallAfter, _ := strconv.ParseInt(os.Getenv(groupStallAfterEnv), 10, 64)
	var handled atomic.Int64
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	errs := make(chan error, members)
	for i := range members {
		name := fmt.Sprintf("%s/%d", who, i)
		deliver := groupDelivery(name)
		g, err := store.NewGroup("projector", 4, func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
			if err := deliver(ctx, tx, r); err != nil {
				return err
			}
			n := handled.Add(1)
			if hangAfter > 0 && n > hangAfter {
				say("hanging %d", r.Position)
				select {} // killed here, the batch's transaction open
			}
			if stallAfter > 0 && n > stallAfter {
				say("stalling %d", r.Position)
				_, err := tx.Exec(ctx, `SELECT pg_sleep(3600)`)
				return err
			}
			return nil
		}, &eventlog.ConsumerConfig{
			PollInterval: 50 * time.Millisecond,
			TakeoverPoll: 100 * time.Millisecond,
			Lease:        2 * time.Second,
			BatchSize:    5,
			OnPartitions: func(held []int) { say("partitions %s %v", name, held) },
		})
		if err != nil {
			fmt.Println("error", err)
			return 3
		}
		go func() { errs <- g.Run(ctx) }()
	}
	for range members {
		if err := <-errs; err != nil {
			fmt.Println("error", err)
			return 1
		}
	}
	return 0
}

func startGroupProcess(t *testing.T, dbURL, who string, members int, env ...string) *testchild.Child {
	t.Helper()
	return testchild.Start(t, "group", []string{who, strconv.Itoa(members)}, append(env, childDBEnv+"="+dbURL, childDirectEnv+"="+migtest.DirectURL(dbURL))...)
}

// waitEach waits until cond holds for the output of each child, named
// by who.
func waitEach(children map[string]*testchild.Child, what string, cond func(lines []string, who string) bool) {
	for who, c := range children {
		c.WaitMatch(who+" "+what, func(string) bool { return cond(c.Lines(), who) }, 30*time.Second)
	}
}

// TestGroupMemberProcessKilledMidBatch: a group of 4 members in 2
// processes shares 4 partitions; one process is killed (SIGKILL) while
// its handlers are in the middle of batches. The other process takes its
// partitions, and every record, those appended before and after the kill,
// is delivered exactly once, each stream in order: the killed batches'
// effects rolled back with their checkpoints.
func TestGroupMemberProcessKilledMidBatch(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	ctx := context.Background()
	survivor := startGroupProcess(t, tb.url, "survivor", 2)
	victim := startGroupProcess(t, tb.url, "victim", 2, groupHangAfterEnv+"=40")
	// The four members settle at a partition each.
	waitEach(map[string]*testchild.Child{"survivor": survivor, "victim": victim}, "with both members holding one partition", func(lines []string, who string) bool {
		return heldCount(lines, who+"/0") == 1 && heldCount(lines, who+"/1") == 1
	})
	for i := range 200 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 20)}, i)
	}
	victim.WaitPrefix("hanging", 30*time.Second)
	time.Sleep(200 * time.Millisecond) // the other victim member hangs too, or is mid-batch
	// What the victim committed: its first 40 records at most, batch by
	// batch; what it handled in the open batches is not there.
	var byVictim int
	if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM gdeliveries WHERE member LIKE 'victim/%'`).Scan(&byVictim); err != nil {
		t.Fatal(err)
	}
	if byVictim > 40 {
		t.Fatalf("%d records committed by the victim, which hangs after handling 40", byVictim)
	}
	victim.Kill()
	for i := range 100 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 25)}, i)
	}
	waitGroupDelivered(t, tb, 300, 60*time.Second)
	checkGroupDeliveries(t, tb)
	var after int
	if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM gdeliveries WHERE member LIKE 'victim/%'`).Scan(&after); err != nil || after != byVictim {
		t.Fatalf("the victim's deliveries went from %d to %d (%v) after it was killed", byVictim, after, err)
	}
	// The survivor's two members hold all 4 partitions.
	survivor.WaitMatch("the survivor holding every partition", func(string) bool {
		return heldCount(survivor.Lines(), "survivor/0")+heldCount(survivor.Lines(), "survivor/1") == 4
	}, 30*time.Second)
	sts, err := s.Consumers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var handled int64
	for _, st := range sts {
		handled += st.Handled
	}
	if handled != 300 {
		t.Fatalf("partitions counted %d handled, want 300: %+v", handled, sts)
	}
	t.Logf("the victim committed %d records before the kill", byVictim)
}

// TestGroupMemberProcessFrozen: two processes share a group's 4
// partitions; one is frozen (SIGSTOP) with records coming in, its
// sessions, and the partitions' advisory locks with them, alive in the
// server. The other ends the frozen member's session once its lease (2 s)
// runs out and takes all 4 partitions within a few leases, while the
// frozen one stays stopped. Woken (SIGCONT), the frozen member finds its
// session gone and starts again: every record is delivered exactly once,
// each stream in order, and it runs on without an error.
func TestGroupMemberProcessFrozen(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	survivor := startGroupProcess(t, tb.url, "survivor", 1)
	victim := startGroupProcess(t, tb.url, "victim", 1)
	waitEach(map[string]*testchild.Child{"survivor": survivor, "victim": victim}, "holding two partitions", func(lines []string, who string) bool {
		return heldCount(lines, who+"/0") == 2
	})
	for i := range 100 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 20)}, i)
	}
	victim.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	for i := range 100 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 20)}, i)
	}
	// Before the lease ran out the victim's partitions were its own; a
	// few leases later they are the survivor's, with the victim stopped.
	waitGroupDelivered(t, tb, 200, 12*time.Second)
	survivor.WaitMatch("the survivor holding every partition", func(string) bool {
		return heldCount(survivor.Lines(), "survivor/0") == 4
	}, 5*time.Second)
	t.Logf("the survivor delivered the frozen member's records %v after the stop", time.Since(stopped).Round(100*time.Millisecond))
	victim.Signal(syscall.SIGCONT)
	for i := range 50 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 25)}, i)
	}
	waitGroupDelivered(t, tb, 250, 30*time.Second)
	// The woken member rejoins and takes its share back.
	victim.WaitMatch("the woken victim holding partitions again", func(string) bool {
		return heldCount(victim.Lines(), "victim/0") == 2
	}, 30*time.Second)
	for i := range 50 {
		mustAppend(t, s, eventlog.Stream{Type: "p", ID: fmt.Sprint(i % 25)}, i)
	}
	waitGroupDelivered(t, tb, 300, 30*time.Second)
	checkGroupDeliveries(t, tb)
	for _, l := range victim.Lines() {
		if strings.HasPrefix(l, "error") {
			t.Fatalf("the woken member failed: %s", l)
		}
	}
}

// heldCount is how many partitions the last "partitions <who> [..]"
// line lists.
func heldCount(lines []string, who string) int {
	n := 0
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "partitions "+who+" "); ok {
			n = len(strings.Fields(strings.Trim(rest, "[]")))
		}
	}
	return n
}

// TestGroupMemberFrozenMidStatement: a member is frozen (SIGSTOP) while
// its batch's transaction is active, not idle (here a statement running;
// as well the server blocked writing results to the frozen process), so
// idle_in_transaction_session_timeout does not end it and it keeps its
// checkpoints' row locks. Once its lease runs out the other member ends
// its session and that batch's backend too, takes its partitions and
// delivers every record once, each stream in order, while it stays
// frozen.
func TestGroupMemberFrozenMidStatement(t *testing.T) {
	t.Parallel()
	tb, s := setupGroupDB(t, 8)
	ctx := context.Background()
	survivor := startGroupProcess(t, tb.url, "survivor", 1)
	victim := startGroupProcess(t, tb.url, "victim", 1, groupStallAfterEnv+"=5")
	waitEach(map[string]*testchild.Child{"survivor": survivor, "victim": victim}, "holding two partitions", func(lines []string, who string) bool {
		return heldCount(lines, who+"/0") == 2
	})
	for i := range 100 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 20)}, i)
	}
	victim.WaitPrefix("stalling", 30*time.Second)
	victim.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	waitGroupDelivered(t, tb, 100, 20*time.Second)
	checkGroupDeliveries(t, tb)
	t.Logf("the survivor delivered the frozen member's records %v after the stop", time.Since(stopped).Round(100*time.Millisecond))
	var stalled int
	if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(3600)'`).Scan(&stalled); err != nil || stalled != 0 {
		t.Fatalf("%d backends still run the frozen member's statement (%v), want its batch ended", stalled, err)
	}
	victim.Kill()
}
