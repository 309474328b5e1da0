package eventlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/seatbelt-go/seatbelt/internal/ctxtime"
	"github.com/seatbelt-go/seatbelt/internal/pgsession"
)

// Handler handles one record inside tx, the transaction that also stores
// the consumer's checkpoint: write the handler's effects through tx and
// they commit exactly once with the checkpoint. An error rolls the batch
// back and the record is retried.
type Handler func(ctx context.Context, tx pgx.Tx, r *Record) error

// ConsumerConfig tunes a [Consumer]. The zero value (or nil) gives the
// defaults.
type ConsumerConfig struct {
	// BatchSize is the most records handled in one transaction: 1 to
	// 100,000. Defaults to 500.
	BatchSize int
	// PollInterval is how long an active consumer waits for a NOTIFY before
	// looking for records anyway. Defaults to 1 second, or to 100
	// milliseconds for a consumer without a session (behind a pooler with
	// no Config.Direct), which finds records only by looking.
	PollInterval time.Duration
	// TakeoverPoll is how often a standby tries to become the active
	// instance; it bounds takeover after the active process dies. Defaults
	// to 1 second.
	TakeoverPoll time.Duration
	// MaxAttempts is how many times the handler is tried on one record
	// before Run stops with a [*HandlerError]. Defaults to 5.
	MaxAttempts int
	// Backoff is the wait before the second attempt; it doubles for each
	// further one, up to MaxBackoff. Defaults to 100 milliseconds.
	Backoff time.Duration
	// MaxBackoff caps the wait between attempts. Defaults to 10 seconds.
	MaxBackoff time.Duration
	// OnActive is called each time this instance becomes the active one
	// (for a member of a consumer group: each time it goes from holding
	// no partition to holding one). Defaults to nil.
	OnActive func()
	// Lease is how long a member of a consumer group ([Store.NewGroup])
	// counts as alive after its last heartbeat (one every TakeoverPoll):
	// a member that stops without leaving (killed, cut off) has its
	// partitions taken over within about Lease. A killed member whose
	// session the server has ended is noticed at the next TakeoverPoll;
	// one frozen or cut off has its session ended by another member once
	// its lease runs out. A member heartbeats between batches and renews
	// its lease every TakeoverPoll during one, so a batch may take longer
	// than Lease; a handler must not leave the batch's transaction idle
	// longer than Lease (the server ends it: a call that did fails on its
	// record, and calls that did together make smaller batches). It must be at least twice TakeoverPoll, and 1ms to 24.8
	// days. Defaults to 10 seconds, or 3 TakeoverPolls if that is longer;
	// a [Consumer] does not use it.
	Lease time.Duration
	// OnPartitions is called with the partitions a member of a consumer
	// group holds, in order, each time they change. Defaults to nil; a
	// [Consumer] does not use it.
	OnPartitions func(held []int)
	// Logger receives state changes and retries. Defaults to the Store's.
	Logger *slog.Logger
}

// Consumer delivers every committed record, in the log's one global order,
// to a handler, remembering its place under a name. Many instances (in many
// processes) may run the same name: one is active, the others wait as
// standbys and take over when it dies.
type Consumer struct {
	store   *Store
	name    string
	handler Handler
	cfg     ConsumerConfig
	running atomic.Bool
	// pooledLogged: the warning that the consumer has no session is given.
	pooledLogged atomic.Bool
	// directChecked: a session on Config.Direct reached the pool's
	// database (see connectSession). Only Run's goroutine uses it.
	directChecked bool
	// sleep waits d or until ctx is done: a timer, which tests replace
	// (export_test.go) to see the waits without taking them.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewConsumer returns a consumer named name (at most [MaxConsumerNameLen]
// bytes); Run starts it.
func (s *Store) NewConsumer(name string, h Handler, cfg *ConsumerConfig) (*Consumer, error) {
	var c ConsumerConfig
	if cfg != nil {
		c = *cfg
	}
	if name == "" {
		return nil, fmt.Errorf("%w: the consumer name is empty; name it for what its handler does: the name keys its checkpoint, so keep it across deploys", ErrInvalidConfig)
	}
	if err := checkName("the consumer name", name, MaxConsumerNameLen, "MaxConsumerNameLen"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if strings.HasPrefix(name, RebuildPrefix) {
		return nil, fmt.Errorf("%w: the consumer name %q begins with %q, which names rebuilds' checkpoints (Store.Rebuild); name it otherwise", ErrInvalidConfig, name, RebuildPrefix)
	}
	if h == nil {
		return nil, fmt.Errorf("%w: consumer %q has no handler; pass the Handler that processes its records", ErrInvalidConfig, name)
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"TakeoverPoll", &c.TakeoverPoll, time.Second},
		{"Backoff", &c.Backoff, 100 * time.Millisecond},
		{"MaxBackoff", &c.MaxBackoff, 10 * time.Second},
	} {
		if *f.v < 0 {
			return nil, fmt.Errorf("%w: ConsumerConfig.%s is %s; use a positive duration, or 0 for the default (%s)", ErrInvalidConfig, f.name, *f.v, f.def)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"BatchSize", &c.BatchSize, 500},
		{"MaxAttempts", &c.MaxAttempts, 5},
	} {
		if *f.v < 0 {
			return nil, fmt.Errorf("%w: ConsumerConfig.%s is %d; use a positive number, or 0 for the default (%d)", ErrInvalidConfig, f.name, *f.v, f.def)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	// A batch's records are held in memory and handled in one transaction:
	// a size past the bound is a slip (a unit, a shift), refused here
	// rather than when the first batch asks for its memory.
	if c.BatchSize > maxBatch {
		return nil, fmt.Errorf("%w: ConsumerConfig.BatchSize is %d; use 1 to %d, or 0 for the default (500)", ErrInvalidConfig, c.BatchSize, maxBatch)
	}
	if c.PollInterval < 0 {
		return nil, fmt.Errorf("%w: ConsumerConfig.PollInterval is %s; use a positive duration, or 0 for the default (%s, or %s without a session)", ErrInvalidConfig, c.PollInterval, pollWithListen, pollOnly)
	}
	if c.Logger == nil {
		c.Logger = s.logger
	}
	c.Logger = c.Logger.With("consumer", name)
	return &Consumer{store: s, name: name, handler: h, cfg: c, sleep: ctxtime.Sleep}, nil
}

// Name returns the consumer's name.
func (c *Consumer) Name() string { return c.name }

// errLostLock means the connection holding the consumer's lock died, so
// another instance may be active now.
var errLostLock = errors.New("eventlog: lost the consumer's lock connection")

// Run waits until this instance is the active one, then delivers records
// until ctx is done (it returns nil) or the handler keeps failing on a
// record (it returns a [*HandlerError]). If its lock connection is lost,
// or a statement of its own fails on a passing error (a lock or statement
// timeout, a deadlock or serialization failure, the server short of
// resources or read-only during a failover, a statement prepared before a
// migration changed the type of a column it reads), it logs a warning and
// goes back to standby, trying again after TakeoverPoll.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrConsumerRunning
	}
	defer c.running.Store(false)
	c.directChecked = false // each Run's first session is checked as a start
	return runAgain(ctx, registeredFirst(c.register, c.runOnce), c.sleep, c.cfg.TakeoverPoll, c.cfg.Logger, "eventlog: consumer lost its connection or hit a passing database error; back to standby")
}

// registeredFirst is once, preceded until it succeeds by register: a
// consumer or group member started while the database is out of reach (a
// failover, a restart beside the deploy) registers when it comes back,
// rather than Run returning and taking the service down with it.
func registeredFirst(register, once func(context.Context) error) func(context.Context) error {
	registered := false
	return func(ctx context.Context) error {
		if !registered {
			if err := register(ctx); err != nil {
				return err
			}
			registered = true
		}
		return once(ctx)
	}
}

// runAgain calls once until ctx is done (it returns nil) or once fails
// other than by a lost connection or a passing error (see isTransient; it
// returns that error); after one of those it logs lost, waits pause and
// calls once again.
func runAgain(ctx context.Context, once func(context.Context) error, sleep func(context.Context, time.Duration) error, pause time.Duration, log *slog.Logger, lost string) error {
	for {
		err := once(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errLostLock) || isTransient(err):
			log.Warn(lost, "err", err)
			if sleep(ctx, pause) != nil {
				return nil
			}
		default:
			return err
		}
	}
}

// register creates the consumer's checkpoint, under the advisory lock a
// group's registration takes, so that a consumer and a group starting at
// once under one name cannot both be created.
func (c *Consumer) register(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, c.store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, registerLockClass, c.name); err != nil {
			return err
		}
		var group bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eventlog_group_partitions WHERE name = $1)`, c.name).Scan(&group); err != nil {
			return err
		}
		if group {
			return fmt.Errorf("%w: %q names a consumer group (Store.NewGroup), whose partitions keep their own checkpoints; run it with NewGroup, or name this consumer otherwise", ErrInvalidConfig, c.name)
		}
		_, err := tx.Exec(ctx, `INSERT INTO eventlog_consumers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, c.name)
		return err
	})
	if err != nil && !errors.Is(err, ErrInvalidConfig) {
		return fmt.Errorf("eventlog: registering consumer %q: %w", c.name, err)
	}
	return err
}

// isTransient reports whether err, which stopped a consumer's or group
// member's run, passes if the run starts again: the loss of a connection
// (a network error, or the server ending the session: FATAL, terminated
// by another member or an administrator, an idle transaction timed out),
// or an error of one statement that a later try does not meet
// (transientCodes, staleCachedPlan). Run documents that it returns only
// when ctx ends or the handler keeps failing, so a lock or statement
// timeout set on the role or database, met while a Rebuild's switch or
// another instance's batch holds the checkpoint row, must not stop it for
// good.
func isTransient(err error) bool {
	// A handler that kept failing, on a lost connection or anything else,
	// stops Run: its retries were the handler's, counted by MaxAttempts.
	if errors.As(err, new(*HandlerError)) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Severity == "FATAL" || strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "08") ||
			strings.HasPrefix(pgErr.Code, "53") || slices.Contains(transientCodes, pgErr.Code) || staleCachedPlan(pgErr)
	}
	return err != nil && !errors.Is(err, ErrInvalidConfig) && !errors.Is(err, errCheckpointGone)
}

// staleCachedPlan reports whether e is "cached plan must not change result
// type": a statement a connection prepared before a migration changed the
// type of a column it returns (the deploy's migrate step runs while the
// old pods' pools hold their statements) fails there once, and pgx then
// drops it from the connection's cache, so the next try prepares it
// again. Its SQLSTATE, 0A000 (feature_not_supported), otherwise names a
// statement that never works, which Run must not retry for ever; the
// server function that raises it tells them apart, where the message
// would not (it follows lc_messages).
func staleCachedPlan(e *pgconn.PgError) bool {
	return e.Code == "0A000" && e.Routine == "RevalidateCachedQuery"
}

// transientCodes are the SQLSTATEs, besides a lost connection's and class
// 53 (insufficient resources: out of memory, disk full, too many
// connections), of a statement that fails now and passes when tried again.
var transientCodes = []string{
	"55P03", // lock_not_available: lock_timeout, waiting on a checkpoint row
	"57014", // query_canceled: statement_timeout (Run's own ctx ending is checked first)
	"40001", // serialization_failure
	"40P01", // deadlock_detected
	"25006", // read_only_sql_transaction: the pool reached a demoted primary, a failover under way
}

// errCheckpointGone: a checkpoint row a consumer, group member or rebuild
// runs from is not there. That is no lost connection, which Run would try
// again for ever: Run returns it.
var errCheckpointGone = errors.New("the checkpoint is gone (deleted by hand?); restore it from a backup, or run under a new name, which starts from the beginning of the log")

// Default poll intervals: with a LISTEN the poll only covers a lost
// NOTIFY; without one it is how records are found.
const (
	pollWithListen = time.Second
	pollOnly       = 100 * time.Millisecond
)

// sessionConfig returns the settings of the consumer's session: the
// Store's Direct, else the pool's, or nil when the pool goes through a
// pooler and there is no session to be had.
func (c *Consumer) sessionConfig(ctx context.Context) (*pgx.ConnConfig, error) {
	return c.store.sessionConfig(ctx, c.cfg.Logger)
}

func (s *Store) sessionConfig(ctx context.Context, logger *slog.Logger) (*pgx.ConnConfig, error) {
	pooled, warning, err := pgsession.Inspect(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errLostLock, err)
	}
	if warning != "" {
		logger.Warn("eventlog: the pool goes through a connection pooler; " + warning)
	}
	switch {
	case s.direct != nil:
		return s.direct.Copy(), nil
	case pooled:
		return nil, nil
	}
	return s.pool.Config().ConnConfig.Copy(), nil
}

// connectSession opens the session of a consumer or group member from cc
// (see sessionConfig), refusing a Direct that goes through a pooler.
//
// *checked says a session of this consumer or member reached the pool's
// database before:
// then a session that reaches another server is a failover under way (the
// pool already on the new primary, Direct's name still on the old one),
// and Run tries again; before that, it is a mistake in the config.
func (s *Store) connectSession(ctx context.Context, cc *pgx.ConnConfig, checked *bool) (*pgx.Conn, error) {
	// A timed-out wait for a notification must not close the connection or
	// send a cancel request that could hit a later query: use a deadline.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errLostLock, err)
	}
	// Before any lock: a session lock taken through a pooler stays on its
	// server connection, held for whichever client gets it next.
	if s.direct != nil {
		pooled, err := pgsession.Pooled(ctx, conn)
		if err != nil {
			closeSession(conn)
			return nil, fmt.Errorf("%w: %v", errLostLock, err)
		}
		if pooled {
			closeSession(conn)
			return nil, fmt.Errorf("%w: Config.Direct goes through a connection pooler too, which keeps neither the consumer's lock nor its LISTEN; point it at the server itself (the direct URL), or leave it nil", ErrInvalidConfig)
		}
		if err := s.sameDatabase(ctx, conn); err != nil {
			closeSession(conn)
			if *checked && errors.Is(err, ErrInvalidConfig) {
				return nil, fmt.Errorf("%w: %v", errLostLock, err)
			}
			return nil, err
		}
		*checked = true
	}
	return conn, nil
}

// sameDatabase refuses a Direct session on another database than the
// pool's: its locks and LISTEN would guard and hear nothing the pool
// does. The server's start time tells apart servers whose databases
// share a name, a standby of the pool's server among them.
func (s *Store) sameDatabase(ctx context.Context, conn *pgx.Conn) error {
	const q = `SELECT current_database(), pg_postmaster_start_time()`
	var poolDB, directDB string
	var poolStart, directStart time.Time
	if err := s.pool.QueryRow(ctx, q).Scan(&poolDB, &poolStart); err != nil {
		return fmt.Errorf("%w: %v", errLostLock, err)
	}
	if err := conn.QueryRow(ctx, q).Scan(&directDB, &directStart); err != nil {
		return fmt.Errorf("%w: %v", errLostLock, err)
	}
	if poolDB != directDB || !poolStart.Equal(directStart) {
		return fmt.Errorf("%w: Config.Direct reaches database %q on a server started at %s, and the pool database %q on a server started at %s: the consumer's lock and LISTEN must be on the database the pool writes to; point Config.Direct at the pool's server and database (the direct URL of the pool's database)",
			ErrInvalidConfig, directDB, directStart.UTC().Format(time.RFC3339Nano), poolDB, poolStart.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// closeSession closes a session; closing it ends the session, so its locks
// are released.
func closeSession(conn *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.Close(cctx)
}

// runOnce connects, waits to become active and consumes until an error.
func (c *Consumer) runOnce(ctx context.Context) error {
	cc, err := c.sessionConfig(ctx)
	if err != nil {
		return err
	}
	if cc == nil {
		poll := cmp.Or(c.cfg.PollInterval, pollOnly)
		if c.pooledLogged.CompareAndSwap(false, true) {
			c.cfg.Logger.Warn("eventlog: the pool goes through a connection pooler, which keeps no session: consumer runs without its lock and LISTEN, polling every poll_interval; its instances take turns batch by batch; set Config.Direct to a direct connection for one active instance woken at once",
				"poll_interval", poll)
		}
		c.becameActive()
		return c.consume(ctx, nil, poll)
	}
	conn, err := c.store.connectSession(ctx, cc, &c.directChecked)
	if err != nil {
		return err
	}
	defer closeSession(conn)
	for standbyLogged := false; ; standbyLogged = true {
		var ok bool
		err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::bigint)`, consumerLock(c.name)).Scan(&ok)
		if err != nil {
			return fmt.Errorf("%w: %v", errLostLock, err)
		}
		if ok {
			break
		}
		if !standbyLogged {
			c.cfg.Logger.Info("eventlog: consumer is standby; another instance is active")
		}
		if err := c.sleep(ctx, c.cfg.TakeoverPoll); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("%w: %v", errLostLock, err)
	}
	c.becameActive()
	return c.consume(ctx, conn, cmp.Or(c.cfg.PollInterval, pollWithListen))
}

func (c *Consumer) becameActive() {
	c.cfg.Logger.Info("eventlog: consumer is active")
	if c.cfg.OnActive != nil {
		c.cfg.OnActive()
	}
}

// consume is the active loop. conn is the session LISTENing for new
// records, or nil: then it only looks every poll.
func (c *Consumer) consume(ctx context.Context, conn *pgx.Conn, poll time.Duration) error {
	limit := c.cfg.BatchSize
	var failing retries
	fenceWait := time.Duration(0)
	for {
		b, err := c.batch(ctx, limit)
		if err != nil {
			return err
		}
		if b.herr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			next, wait, err := failing.failed(c.name, &c.cfg, b.bad, b.herr, b.n)
			if err != nil {
				return err
			}
			c.cfg.Logger.Warn("eventlog: handler failed; retrying", "stream", b.bad.Stream.String(), "version", b.bad.Version,
				"position", b.bad.Position, "attempt", failing.attempts, "err", b.herr)
			if wait > 0 {
				if err := c.sleep(ctx, wait); err != nil {
					return err
				}
			}
			limit = next
			continue
		}
		full := b.n == limit
		limit = c.cfg.BatchSize
		if full || b.moved {
			continue
		}
		// Wait for a NOTIFY, or the poll interval. Records held back by the
		// fence were announced already, so while there are some, look again
		// soon: 1 ms, doubling up to the poll interval.
		if err := waitWake(ctx, conn, nextWait(b.heldBack, &fenceWait, poll), c.sleep); err != nil {
			return err
		}
	}
}

// nextWait is how long a reader waits for its next batch: poll, or while
// records wait behind the fence (heldBack), 1 ms doubling up to poll,
// with fenceWait carrying the doubling from one wait to the next.
func nextWait(heldBack bool, fenceWait *time.Duration, poll time.Duration) time.Duration {
	if !heldBack {
		*fenceWait = 0
		return poll
	}
	*fenceWait = min(max(2**fenceWait, time.Millisecond), poll)
	return *fenceWait
}

// waitWake waits up to wait for a NOTIFY on conn, or, without a session,
// sleeps. An error on conn other than the wait running out is a lost
// session.
func waitWake(ctx context.Context, conn *pgx.Conn, wait time.Duration, sleep func(context.Context, time.Duration) error) error {
	if conn == nil {
		return sleep(ctx, wait)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	_, err := conn.WaitForNotification(wctx)
	cancel()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err):
		return fmt.Errorf("%w: %v", errLostLock, err)
	}
	return nil
}

// retries follows the handler's attempts on the record it keeps failing
// on, for a consumer or a group member.
type retries struct {
	pos      int64
	attempts int
	waits    int
}

// failed counts a failed attempt on bad, which came after n records the
// batch handled, and says what comes next: the n records first, alone in
// a batch (limit n, no wait); or bad alone again after a backoff (limit
// 1). After cfg.MaxAttempts it returns the [*HandlerError] that stops the
// consumer.
func (f *retries) failed(name string, cfg *ConsumerConfig, bad *Record, herr error, n int) (limit int, wait time.Duration, err error) {
	if f.pos != bad.Position {
		f.pos, f.attempts, f.waits = bad.Position, 0, 0
	}
	f.attempts++
	if f.attempts >= cfg.MaxAttempts {
		return 0, 0, &HandlerError{Consumer: name, Record: bad, Attempts: f.attempts, Err: herr}
	}
	if n > 0 {
		return n, 0, nil // commit the records before the failing one first
	}
	f.waits++
	return 1, backoff(cfg.Backoff, cfg.MaxBackoff, f.waits), nil
}

// backoff is the wait before the n-th retry: base, doubling, at most limit.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// fetchSQL reads the records after the checkpoint ($1, $2) in delivery
// order (see fencedSQL).
var fetchSQL = fencedSQL(fenceSQL, afterCheckpoint, "$3")

// afterCheckpoint is where the records after the checkpoint ($1, $2) are.
const afterCheckpoint = `(xid, position) > ($1::text::xid8, $2::bigint)`

// batchResult is what one batch did.
type batchResult struct {
	n        int     // records handled (committed, or before the failing one)
	bad      *Record // the record the handler failed on
	herr     error   // the handler's error
	heldBack bool    // committed records wait behind the fence
	moved    bool    // another instance moved the checkpoint; nothing done
}

// batch handles up to limit records in one transaction with the
// checkpoint.
//
// The records are read before the transaction has an xid of its own: a
// transaction's own xid is the xmin of its snapshot, so reading after
// locking the checkpoint row would hold back every record written by a
// transaction that started after this one, and the NOTIFY announcing those
// was already consumed. The checkpoint row is locked after the read and
// compared with what the read started from.
func (c *Consumer) batch(ctx context.Context, limit int) (res batchResult, err error) {
	ctx, span := c.store.tracer.Start(ctx, "eventlog.consume")
	defer func() {
		span.SetAttributes(attribute.String("eventlog.consumer", c.name), attribute.Int("eventlog.records", res.n))
		if e := errors.Join(res.herr, err); e != nil {
			span.RecordError(e)
			span.SetStatus(codes.Error, e.Error())
		}
		span.End()
	}()
	return c.store.checkpointBatch(ctx, c.name, limit, func(ctx context.Context, tx pgx.Tx, recs []*Record) (int, *Record, error) {
		for i, r := range recs {
			if herr := c.handler(ctx, tx, r); herr != nil {
				return i, r, herr
			}
		}
		return len(recs), nil, nil
	})
}

// handleFunc handles a batch of records in tx; it returns how many it
// handled before the one it failed on (bad, with the handler's error), or
// len(recs).
type handleFunc func(ctx context.Context, tx pgx.Tx, recs []*Record) (n int, bad *Record, herr error)

// checkpointBatch reads up to limit records after the checkpoint named
// name, hands them to handle and moves the checkpoint past them, in one
// transaction: the batch of a consumer.
func (s *Store) checkpointBatch(ctx context.Context, name string, limit int, handle handleFunc) (res batchResult, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	from, err := readCheckpoint(ctx, tx, name)
	if err != nil {
		return res, err
	}
	recs, heldBack, err := readAfter(ctx, tx, from, limit)
	if err != nil {
		return res, fmt.Errorf("eventlog: reading records for %q: %w", name, err)
	}
	res.heldBack = heldBack
	if len(recs) == 0 {
		return res, nil
	}
	return commitBatch(ctx, tx, name, from, recs, handle)
}

// Store.commitBatch runs commitBatch in a transaction of its own.
func (s *Store) commitBatch(ctx context.Context, name string, from checkpoint, recs []*Record, handle handleFunc) (batchResult, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return batchResult{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return commitBatch(ctx, tx, name, from, recs, handle)
}

// checkpointSQL reads a consumer's checkpoint.
const checkpointSQL = `SELECT xid::text, position FROM eventlog_consumers WHERE name = $1`

// readCheckpoint reads the checkpoint named name.
func readCheckpoint(ctx context.Context, q pgx.Tx, name string) (checkpoint, error) {
	var xid string
	var c checkpoint
	err := q.QueryRow(ctx, checkpointSQL, name).Scan(&xid, &c.pos)
	if err == nil {
		c.xid, err = strconv.ParseUint(xid, 10, 64)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("%w: %w", errCheckpointGone, err)
	}
	if err != nil {
		return c, fmt.Errorf("eventlog: reading the checkpoint of %q: %w", name, err)
	}
	return c, nil
}

// readAfter reads up to limit records after from, in delivery order,
// behind the ordering fence.
func readAfter(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, from checkpoint, limit int) (recs []*Record, heldBack bool, err error) {
	recs, _, heldBack, err = readFenced(ctx, q, fetchSQL, []any{strconv.FormatUint(from.xid, 10), from.pos, limit + 1}, limit)
	return recs, heldBack, err
}

// commitBatch locks the checkpoint named name and, if it still stands at
// from, hands recs (the records after from) to handle, moves the
// checkpoint past them and commits tx. Locking the checkpoint row makes
// two instances that both believe they are active (one about to learn its
// connection died) take turns; the one that finds the checkpoint moved
// gets moved set and starts again from it.
func commitBatch(ctx context.Context, tx pgx.Tx, name string, from checkpoint, recs []*Record, handle handleFunc) (res batchResult, err error) {
	var xid string
	var pos int64
	if err := tx.QueryRow(ctx, checkpointSQL+` FOR UPDATE`, name).Scan(&xid, &pos); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = fmt.Errorf("%w: %w", errCheckpointGone, err)
		}
		return res, fmt.Errorf("eventlog: locking the checkpoint of %q: %w", name, err)
	}
	if xid != strconv.FormatUint(from.xid, 10) || pos != from.pos {
		res.moved = true
		return res, nil
	}
	if n, bad, herr := handle(ctx, tx, recs); herr != nil {
		res.n, res.bad, res.herr = n, bad, herr
		return res, nil
	}
	last := recs[len(recs)-1]
	if _, err := tx.Exec(ctx, `UPDATE eventlog_consumers SET xid = $2::text::xid8, position = $3, handled = handled + $4, updated_at = now() WHERE name = $1`,
		name, strconv.FormatUint(last.TxID, 10), last.Position, len(recs)); err != nil {
		return res, fmt.Errorf("eventlog: storing the checkpoint of %q: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("eventlog: committing a batch of %q: %w", name, err)
	}
	res.n = len(recs)
	return res, nil
}

// after is the checkpoint just past r.
func after(r *Record) checkpoint { return checkpoint{xid: r.TxID, pos: r.Position} }
