package eventlog

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// notifier wakes consumers after appends that went through the pool.
//
// NOTIFY inside the appending transaction would be the obvious way, but
// PostgreSQL serialises the commits of notifying transactions on one global
// lock held through the WAL flush, which would undo group commit for every
// writer. So pool appends commit without NOTIFY and then ask the notifier;
// it sends one NOTIFY at a time from a short-lived goroutine and folds the
// requests that arrive meanwhile into the next one, at most one per
// Config.NotifyInterval. A lost wake-up only
// costs latency: consumers also poll.
type notifier struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	// gap is the least time between two NOTIFYs, so that the notifier
	// never becomes one more busy writer.
	gap time.Duration

	mu      sync.Mutex
	pending bool
	running bool
	idle    sync.Cond // on mu; signalled when running turns false
}

func (n *notifier) poke() {
	n.mu.Lock()
	n.pending = true
	if n.running {
		n.mu.Unlock()
		return
	}
	n.running = true
	n.mu.Unlock()
	go n.run()
}

func (n *notifier) run() {
	var last time.Time
	for {
		if wait := n.gap - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		n.mu.Lock()
		if !n.pending {
			n.running = false
			n.idle.Broadcast()
			n.mu.Unlock()
			return
		}
		n.pending = false
		n.mu.Unlock()
		last = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := n.pool.Exec(ctx, "SELECT pg_notify($1, '')", notifyChannel)
		cancel()
		if err != nil {
			n.logger.Debug("eventlog: wake-up notification failed; consumers will poll", "err", err)
		}
	}
}

// wait returns when no notification is pending or being sent.
func (n *notifier) wait() {
	n.mu.Lock()
	for n.running {
		n.idle.Wait()
	}
	n.mu.Unlock()
}
