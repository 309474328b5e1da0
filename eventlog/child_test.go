package eventlog_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// The consumer process reads the database URL from childDBEnv.
// Its consumer's session (lock and LISTEN) connects to childDirectEnv,
// which differs when the tests run behind a pooler.
const (
	childDBEnv     = "EVENTLOG_TEST_DB"
	childDirectEnv = "EVENTLOG_TEST_DIRECT_DB"
	hangAtEnv      = "EVENTLOG_TEST_HANG_AT"
)

// childMain is the scenario "consumer" with args [mode]: it runs consumer
// "projector" in this process. Its handler records each record in table
// effects as consumer mode (position is its primary key, so a second
// effect for one record would fail the batch) and prints "handled <pos>".
// With EVENTLOG_TEST_HANG_AT=<pos> it prints "hanging <pos>" after handling
// that record and blocks before the checkpoint commits, waiting to be
// killed.
func childMain(args []string) int {
	mode := args[0]
	ctx := context.Background()
	store, pool, err := childStore(ctx)
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	defer pool.Close()
	hangAt, _ := strconv.ParseInt(os.Getenv(hangAtEnv), 10, 64)
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	c, err := store.NewConsumer("projector", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if _, err := tx.Exec(ctx, `INSERT INTO effects (position, consumer) VALUES ($1, $2)`, r.Position, mode); err != nil {
			return err
		}
		say("handled %d", r.Position)
		if r.Position == hangAt {
			say("hanging %d", r.Position)
			select {} // killed here, between handling and checkpoint
		}
		return nil
	}, &eventlog.ConsumerConfig{
		PollInterval: 100 * time.Millisecond,
		TakeoverPoll: 100 * time.Millisecond,
		BatchSize:    2,
		OnActive:     func() { say("active") },
	})
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	if err := c.Run(ctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// startConsumerProcess runs childMain as consumer mode in a process of its
// own, on the database at dbURL.
func startConsumerProcess(t *testing.T, dbURL, mode string, env ...string) *testchild.Child {
	t.Helper()
	return testchild.Start(t, "consumer", []string{mode}, append(env, childDBEnv+"="+dbURL, childDirectEnv+"="+migtest.DirectURL(dbURL))...)
}

// childStore is a child process's store on the database and direct
// session its parent named in the environment.
func childStore(ctx context.Context) (*eventlog.Store, *pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, os.Getenv(childDBEnv))
	if err != nil {
		return nil, nil, err
	}
	direct, err := pgx.ParseConfig(os.Getenv(childDirectEnv))
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	store, err := eventlog.New(pool, &eventlog.Config{Writer: "child", Logger: quietLogger(), Direct: direct})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return store, pool, nil
}
