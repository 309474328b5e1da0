package eventlog_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// childEnv selects the consumer process mode of the test binary; the
// database URL is in childDBEnv.
const (
	childEnv   = "EVENTLOG_TEST_CHILD"
	childDBEnv = "EVENTLOG_TEST_DB"
	hangAtEnv  = "EVENTLOG_TEST_HANG_AT"
)

// childMain runs consumer "projector" in this process. Its handler records
// each record in table effects (position is its primary key, so a second
// effect for one record would fail the batch) and prints "handled <pos>".
// With EVENTLOG_TEST_HANG_AT=<pos> it prints "hanging <pos>" after handling
// that record and blocks before the checkpoint commits, waiting to be
// killed.
func childMain(mode string) int {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv(childDBEnv))
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	defer pool.Close()
	store, err := eventlog.New(pool, &eventlog.Config{Writer: "child", Logger: quietLogger()})
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
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

// childProc is a consumer process started by a test.
type childProc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

func startConsumerProcess(t *testing.T, dbURL, mode string, env ...string) *childProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDBEnv+"="+dbURL, "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &childProc{cmd: cmd, lines: make(chan string, 10000), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitFor reads the child's lines until one starts with prefix.
func (p *childProc) waitFor(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, "error") {
				t.Fatalf("child: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-p.done:
			t.Fatalf("child exited while waiting for %q", prefix)
		case <-deadline:
			t.Fatalf("child did not say %q within %v", prefix, within)
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *childProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}
