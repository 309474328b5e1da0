package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/ctxtime"
)

// RebuildPrefix begins the name of a rebuild's checkpoint: the rebuild of
// consumer "summaries" keeps its place as "rebuild/summaries", beside the
// consumers (Store.Consumers lists it, with its lag). NewConsumer refuses
// names that begin with it.
const RebuildPrefix = "rebuild/"

// RebuildOpts says how [Store.Rebuild] builds the new read model and
// switches to it.
type RebuildOpts struct {
	// Prepare creates the new read model, empty, beside the live one (a
	// shadow table, say), in the transaction that starts the rebuild. A
	// rebuild resumed after a kill does not call it again. Defaults to
	// nil: nothing to create.
	Prepare func(ctx context.Context, tx pgx.Tx) error
	// Handle writes a batch of records, in the log's order, into the new
	// read model, in the transaction that moves the rebuild's checkpoint
	// past them, so a rebuild killed at any point resumes without doubling
	// or losing one. A batch lets it write a table's rows in one
	// statement. It must not reorder or change recs: the checkpoint moves
	// past the last of them. It writes the read model only: a record it
	// appended in tx during the switch could sort before the checkpoint
	// handed to the live consumer, so the switch refuses one (and rolls
	// back). Required.
	Handle func(ctx context.Context, tx pgx.Tx, recs []*Record) error
	// Switch makes the new read model the live one (copy it over the live
	// tables, or rename them), in the transaction that hands the rebuild's
	// checkpoint to the consumer: the live consumer, blocked meanwhile on
	// its checkpoint's lock, goes on from there into the switched model.
	// Like Handle it appends no record in tx. Required.
	Switch func(ctx context.Context, tx pgx.Tx) error
	// BatchSize is the most records one transaction handles. Defaults to
	// 2,000.
	BatchSize int
	// Progress is called after each batch. Defaults to nil.
	Progress func(RebuildProgress)
}

// RebuildProgress says how far a rebuild is.
type RebuildProgress struct {
	// Handled counts the records the rebuild handled, since it began (a
	// resumed rebuild counts those before the kill too).
	Handled int64
	// Position is the log position of the last record handled; Head is the
	// highest position in the log when the batch ran (positions are not
	// the delivery order, but they tell how far along it is).
	Position, Head int64
}

// RebuildResult is what a finished rebuild did.
type RebuildResult struct {
	// Resumed is true when the rebuild went on from a checkpoint a killed
	// or cancelled run left.
	Resumed bool
	// Handled counts every record the rebuild handled.
	Handled int64
	// Took is how long this call took.
	Took time.Duration
}

// maxBatch bounds RebuildOpts.BatchSize and ConsumerConfig.BatchSize: a
// batch is held in memory and in one transaction, so a mistyped size (a
// unit slip, 1<<40) must be refused where it is given, not found when a
// batch asks for that much memory.
const maxBatch = 100000

// rebuildFenceWait is how long a rebuild that could not switch waits
// before it catches up and tries again.
const rebuildFenceWait = 20 * time.Millisecond

// switchFenceWait bounds how long the switch, holding the live consumer's
// checkpoint, waits for records behind the ordering fence.
const switchFenceWait = 500 * time.Millisecond

// rebuildCatchUp bounds the batches the switch handles while it holds the
// live consumer's checkpoint: past it, the switch lets go and the rebuild
// catches up again first.
const rebuildCatchUp = 5

// Rebuild replays the whole log into a new read model while the live one
// keeps serving, then switches to it atomically: the fix for a projection
// that was wrong. The live consumer named consumer keeps running (in the
// service's replicas) throughout; Rebuild may run in any process.
//
// The rebuild keeps its own checkpoint (RebuildPrefix + consumer), so a
// rebuild killed or cancelled (ctx) resumes where it stopped when Rebuild
// is called again; CancelRebuild abandons it. When a read reaches the head
// of the log, Rebuild locks the live consumer's checkpoint, handles what
// arrived until it is at or past that checkpoint, calls opts.Switch and
// moves the live checkpoint to the rebuild's, all in one transaction, so
// every record lands in the switched model exactly once and the switched
// model lacks nothing the old one had; under steady writes the live
// consumer then handles the newest records into it. Records held behind
// the ordering fence (a transaction older than them still running) when
// the switch comes are after the checkpoint it hands over, and reach the
// switched model through the live consumer.
func (s *Store) Rebuild(ctx context.Context, consumer string, opts *RebuildOpts) (*RebuildResult, error) {
	start := time.Now()
	if err := checkRebuild(consumer, opts); err != nil {
		return nil, err
	}
	o := *opts
	if o.BatchSize == 0 {
		o.BatchSize = 2000
	}
	name := RebuildPrefix + consumer
	res := &RebuildResult{}
	// A rebuild replaces a running consumer's model: a mistyped name would
	// switch the model under the real consumer, which goes on from its own
	// checkpoint and applies records twice.
	var exists, group bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventlog_consumers WHERE name = $1),
		EXISTS (SELECT 1 FROM eventlog_group_partitions WHERE name = $1)`, consumer).Scan(&exists, &group); err != nil {
		return nil, fmt.Errorf("eventlog: the checkpoint of %q: %w", consumer, err)
	}
	if !exists {
		if group {
			return nil, fmt.Errorf("%w: %q names a consumer group (Store.NewGroup); rebuilds do not support consumer groups yet: to rebuild its read model, run a new group name, which starts from the beginning of the log, and switch to it", ErrInvalidConfig, consumer)
		}
		return nil, fmt.Errorf("%w: no consumer named %q has a checkpoint; a rebuild replaces a running consumer's read model: check the name (seatbelt eventlog rebuild, Store.Consumers list them), or run the consumer once first", ErrInvalidConfig, consumer)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO eventlog_consumers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			res.Resumed = true
			return nil
		}
		if o.Prepare != nil {
			return o.Prepare(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eventlog: starting the rebuild of %q: %w", consumer, err)
	}
	handle := func(ctx context.Context, tx pgx.Tx, recs []*Record) (int, *Record, error) {
		if err := o.Handle(ctx, tx, recs); err != nil {
			return 0, recs[0], err
		}
		return len(recs), nil, nil
	}
	if err := s.replay(ctx, consumer, name, o, handle); err != nil {
		return nil, err
	}
	if err := s.pool.QueryRow(ctx, `SELECT handled FROM eventlog_consumers WHERE name = $1`, consumer).Scan(&res.Handled); err != nil {
		return nil, fmt.Errorf("eventlog: rebuilding %q: %w", consumer, err)
	}
	res.Took = time.Since(start)
	return res, nil
}

// replay handles the log into the new read model until it has switched.
//
// While one batch is handled, the next is read on another connection from
// where that batch ends, so reading the log and writing the model overlap
// (on the benchmark's machine reading is a third of a batch's time). The
// read is only a read: the batch is still handled in the transaction that
// locks the rebuild's checkpoint, finds it where the read began, and moves
// it, so a kill or a second rebuild process at any point leaves nothing
// doubled or lost. A read made beside that transaction sees its xid as
// still running, so the fence may end it early: a shorter batch, or when
// it found nothing, a read made again alone. A read ahead stopped in
// flight (the batch found its checkpoint moved, or failed) costs the pool
// that connection, which pgx closes on a cancelled query.
func (s *Store) replay(ctx context.Context, consumer, name string, o RebuildOpts, handle handleFunc) error {
	var ahead *readAhead
	defer func() { ahead.cancel() }()
	for {
		var from checkpoint
		var recs []*Record
		var err error
		if ahead != nil {
			from, recs, err = ahead.wait()
			ahead = nil
		}
		if err == nil && len(recs) == 0 {
			// No read ahead, or it found nothing while a batch was being
			// written: read alone.
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if from, err = readCheckpoint(ctx, tx, name); err != nil {
					return err
				}
				recs, _, err = readAfter(ctx, tx, from, o.BatchSize)
				return err
			})
		}
		switch {
		case errors.Is(err, errCheckpointGone):
			return rebuildGone(consumer)
		case err != nil:
			return fmt.Errorf("eventlog: rebuilding %q: reading records: %w", consumer, err)
		}
		if len(recs) == 0 {
			done, err := s.switchRebuild(ctx, consumer, name, o, handle)
			if err != nil || done {
				return err
			}
			if err := ctxtime.Sleep(ctx, rebuildFenceWait); err != nil {
				return err
			}
			continue
		}
		ahead = s.readAhead(ctx, after(recs[len(recs)-1]), o.BatchSize)
		b, err := s.commitBatch(ctx, name, from, recs, handle)
		switch {
		case errors.Is(err, errCheckpointGone):
			return rebuildGone(consumer)
		case err != nil:
			return fmt.Errorf("eventlog: rebuilding %q: %w", consumer, err)
		case b.herr != nil:
			return fmt.Errorf("eventlog: rebuilding %q: the handler failed on the batch from %s version %d (position %d): %w; fix it and run the rebuild again: it goes on from there",
				consumer, b.bad.Stream, b.bad.Version, b.bad.Position, b.herr)
		case b.moved:
			// Another process runs this rebuild too: start again from
			// where it got to.
			ahead.cancel()
			ahead = nil
			continue
		}
		if o.Progress != nil {
			p, err := s.rebuildProgress(ctx, name)
			if err != nil {
				return err
			}
			o.Progress(p)
		}
		if len(recs) < o.BatchSize {
			// The read reached the head of the log. Under steady writes
			// the next read finds the few records written meanwhile, and
			// one that finds none may never come: try the switch now, which
			// handles what arrived under the live consumer's lock.
			done, err := s.switchRebuild(ctx, consumer, name, o, handle)
			if err != nil || done {
				return err
			}
		}
	}
}

// rebuildGone is the error of a rebuild whose checkpoint went while it ran.
func rebuildGone(consumer string) error {
	return fmt.Errorf("eventlog: the rebuild of %q has no checkpoint any more: it was cancelled (CancelRebuild), or another process running it switched first", consumer)
}

// readAhead is a read of the records after a checkpoint, running.
type readAhead struct {
	from checkpoint
	stop context.CancelFunc
	done chan struct{}
	recs []*Record
	err  error
}

// readAhead starts reading up to limit records after from.
func (s *Store) readAhead(ctx context.Context, from checkpoint, limit int) *readAhead {
	ctx, stop := context.WithCancel(ctx)
	a := &readAhead{from: from, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.recs, _, a.err = readAfter(ctx, s.pool, from, limit)
	}()
	return a
}

// wait returns the read's records and where they begin.
func (a *readAhead) wait() (checkpoint, []*Record, error) {
	<-a.done
	a.stop()
	return a.from, a.recs, a.err
}

// cancel stops the read, if any, and waits for it to end.
func (a *readAhead) cancel() {
	if a != nil {
		a.stop()
		<-a.done
	}
}

func checkRebuild(consumer string, o *RebuildOpts) error {
	if consumer == "" || strings.HasPrefix(consumer, RebuildPrefix) {
		return fmt.Errorf("%w: rebuild of consumer %q: give the name of the consumer whose read model to rebuild", ErrInvalidConfig, consumer)
	}
	if err := checkName("the consumer name", RebuildPrefix+consumer, MaxConsumerNameLen, "MaxConsumerNameLen"); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	switch {
	case o == nil || o.Handle == nil:
		return fmt.Errorf("%w: RebuildOpts.Handle is required: it writes records into the new read model", ErrInvalidConfig)
	case o.Switch == nil:
		return fmt.Errorf("%w: RebuildOpts.Switch is required: it makes the new read model the live one", ErrInvalidConfig)
	case o.BatchSize < 0 || o.BatchSize > maxBatch:
		return fmt.Errorf("%w: RebuildOpts.BatchSize is %d; use 1 to %d, or 0 for the default (2000)", ErrInvalidConfig, o.BatchSize, maxBatch)
	}
	return nil
}

// switchRebuild hands the rebuild over to the live consumer, if the
// rebuild can catch up within a few batches while it holds the live
// checkpoint's lock; done is false when it could not (records keep
// arriving faster) and the rebuild should catch up first.
func (s *Store) switchRebuild(ctx context.Context, consumer, name string, o RebuildOpts, handle handleFunc) (done bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// A rebuild process that vanishes mid-switch must not leave the live
	// consumer waiting on its lock until TCP notices. (This ends a session
	// left idle; one whose server is blocked writing to a frozen process,
	// or that runs a Switch waiting on a lock, lasts until TCP's timeouts
	// or that lock.)
	if _, err := tx.Exec(ctx, `SET LOCAL idle_in_transaction_session_timeout = '30s'`); err != nil {
		return false, err
	}
	// The live consumer's batches lock this row before they write, so they
	// wait here, and find it moved when they go on.
	var live checkpoint
	if err := tx.QueryRow(ctx, `SELECT xid::text::bigint, position FROM eventlog_consumers WHERE name = $1 FOR UPDATE`, consumer).Scan(&live.xid, &live.pos); err != nil {
		return false, fmt.Errorf("eventlog: locking the checkpoint of %q: %w", consumer, err)
	}
	var at checkpoint
	var handled int64
	if err := tx.QueryRow(ctx, `SELECT xid::text::bigint, position, handled FROM eventlog_consumers WHERE name = $1 FOR UPDATE`, name).Scan(&at.xid, &at.pos, &handled); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return false, rebuildGone(consumer)
		}
		return false, err
	}
	deadline := time.Now().Add(switchFenceWait)
	for batches := 0; ; {
		// Caught up with the live consumer, which waits on the lock: the
		// new model lacks nothing the old one has, and the live consumer
		// goes on into it from here. Under steady writes records keep
		// arriving, so a read that finds none may never come; waiting for
		// one kept a rebuild under a busy writer from ever switching.
		var recs []*Record
		var heldBack bool
		if at.less(live) {
			recs, _, heldBack, err = readFenced(ctx, tx, switchFetchSQL, []any{strconv.FormatUint(at.xid, 10), at.pos, o.BatchSize + 1}, o.BatchSize)
			if err != nil {
				return false, err
			}
		}
		if len(recs) == 0 && heldBack {
			// Not while committed records wait behind an older append
			// still running: the live model would lack them until the live
			// consumer got to them. Appends are short; under steady writes
			// a moment without such a record comes soon.
			if time.Now().After(deadline) {
				return false, nil
			}
			if err := ctxtime.Sleep(ctx, 5*time.Millisecond); err != nil {
				return false, err
			}
			continue
		}
		if len(recs) > 0 && batches == rebuildCatchUp {
			return false, nil
		}
		if len(recs) == 0 {
			if err := o.Switch(ctx, tx); err != nil {
				return false, fmt.Errorf("eventlog: switching to the rebuilt read model of %q: %w", consumer, err)
			}
			// The checkpoint handed over may be past this transaction's
			// own xid (switchFetchSQL leaves it out of the fence), so a
			// record appended here would never reach the live consumer.
			var appended bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM eventlog_records WHERE xid = pg_current_xact_id())`).Scan(&appended); err != nil {
				return false, err
			}
			if appended {
				return false, fmt.Errorf("%w: the rebuild of %q: RebuildOpts.Handle or Switch appended records in the switch's transaction; nothing was switched. They write the read model only: append from elsewhere", ErrInvalidConfig, consumer)
			}
			tag, err := tx.Exec(ctx, `UPDATE eventlog_consumers SET xid = $2::text::xid8, position = $3, handled = $4, updated_at = now() WHERE name = $1`,
				consumer, strconv.FormatUint(at.xid, 10), at.pos, handled)
			if err != nil {
				return false, err
			}
			if tag.RowsAffected() != 1 {
				return false, fmt.Errorf("eventlog: the checkpoint of %q is gone (deleted by hand?); nothing was switched: run the consumer once, then the rebuild again", consumer)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM eventlog_consumers WHERE name = $1`, name); err != nil {
				return false, err
			}
			if err := tx.Commit(ctx); err != nil {
				return false, fmt.Errorf("eventlog: switching to the rebuilt read model of %q: %w", consumer, err)
			}
			return true, nil
		}
		if _, bad, herr := handle(ctx, tx, recs); herr != nil {
			return false, fmt.Errorf("eventlog: rebuilding %q: the handler failed on the batch from %s version %d (position %d): %w", consumer, bad.Stream, bad.Version, bad.Position, herr)
		}
		at, handled = after(recs[len(recs)-1]), handled+int64(len(recs))
		batches++
	}
}

// switchFetchSQL is fetchSQL for the switch, whose transaction holds row
// locks and so an xid of its own: fencing on that xid (fenceSQL counts it)
// would hold back every record committed after the switch began, and under
// steady writes the switch would never find the log caught up. The oldest
// other transaction still running here is the fence instead; the switch
// writes no record, so none can come before one it delivers.
var switchFetchSQL = fencedSQL(`least(`+runningHereSQL+`, pg_snapshot_xmax(pg_current_snapshot()))`, afterCheckpoint, "$3")

func (s *Store) rebuildProgress(ctx context.Context, name string) (RebuildProgress, error) {
	var p RebuildProgress
	err := s.pool.QueryRow(ctx, `SELECT handled, position, (SELECT coalesce(max(position), 0) FROM eventlog_records) FROM eventlog_consumers WHERE name = $1`, name).
		Scan(&p.Handled, &p.Position, &p.Head)
	if err != nil {
		return p, fmt.Errorf("eventlog: reading the rebuild's progress: %w", err)
	}
	return p, nil
}

// CancelRebuild abandons consumer's rebuild: its checkpoint is deleted and
// drop (which removes the new read model the rebuild's Prepare created)
// runs, in one transaction, so the next Rebuild starts afresh. It reports
// whether a rebuild was there. A Rebuild still running stops with an error
// at its next batch.
func (s *Store) CancelRebuild(ctx context.Context, consumer string, drop func(ctx context.Context, tx pgx.Tx) error) (bool, error) {
	var found bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM eventlog_consumers WHERE name = $1`, RebuildPrefix+consumer)
		if err != nil {
			return err
		}
		found = tag.RowsAffected() > 0
		if found && drop != nil {
			return drop(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("eventlog: cancelling the rebuild of %q: %w", consumer, err)
	}
	return found, nil
}
