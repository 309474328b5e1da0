package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
)

// releaseGrace is how long Stop waits, after its deadline cancelled the
// running stages, for them to return and be released.
const releaseGrace = time.Second

// Client runs the stages of the kinds registered with it. Create it with
// [NewClient], register kinds, then Start it; Stop drains it. Enqueueing
// and administering jobs need no client: [Enqueue], [List], [Cancel],
// [Cleanup] and [Restart] take a database.
type Client struct {
	db     *pgxpool.Pool
	cfg    Config
	log    *slog.Logger
	tracer trace.Tracer

	mu       sync.Mutex
	kinds    map[string]*kindReg
	periodic []*periodicReg
	state    int // clientNew, clientStarted, clientStopping, clientStopped
	stopped  chan struct{}
	active   map[int64]*active
	// waitingRenewals counts the renewals waiting for a row (renewWhenFree).
	waitingRenewals int

	// Fixed at Start, read-only afterwards.
	kindNames, firsts, pairs []string
	listenCfg                *pgx.ConnConfig // nil: no listener, the client polls
	// The queues worked, in name order, with each one's MaxWorkers and
	// running stages, and the index of each name.
	queueNames []string
	queueMax   []int64
	queueBusy  []atomic.Int64
	// queueFull: the queue had no room, or may have more jobs waiting, at
	// the last claim; a stage of it that ends wakes the claim loop.
	queueFull []atomic.Bool
	queueIdx  map[string]int
	// startedAt orders this client's periodic schedules against those of
	// other clients (see AddPeriodic).
	startedAt time.Time

	wake          chan struct{}
	busy          atomic.Int64
	stages        sync.WaitGroup
	stopFetch     context.CancelFunc
	fetchDone     chan struct{}
	stopBG        context.CancelFunc
	bg            sync.WaitGroup
	completions   chan *completion
	stopCompleter chan struct{}
	compDone      chan struct{}
	// txSlots bounds the stage transactions open at once (see
	// StageRun.Tx): a slot is taken before Begin and given back when the
	// transaction ends.
	txSlots  chan struct{}
	leader   atomic.Bool
	releases releaseQueue
}

const (
	clientNew = iota
	clientStarted
	clientStopping
	clientStopped
)

type active struct {
	claim int64
	// stage is the stage's context, cancel ends it.
	stage  context.Context
	cancel context.CancelCauseFunc
	// skipped counts the heartbeats in a row that found the stage's row
	// locked by another transaction; waiting: a renewal of its lease waits
	// for the row (renewWhenFree). Guarded by Client.mu, as is
	// Client.waitingRenewals.
	skipped int
	waiting bool
}

// NewClient returns a client for db. cfg may be nil for all defaults. It
// takes a pool, not a [DB]: stages run concurrently, each on a connection
// of its own, and the client opens its listening connection with the
// pool's configuration.
func NewClient(db *pgxpool.Pool, cfg *Config) (*Client, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: the pool is nil; pass the *pgxpool.Pool the jobs tables are in", ErrInvalidConfig)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Client{
		db:            db,
		cfg:           c,
		log:           c.Logger.With("component", "jobs", "worker", c.WorkerID),
		tracer:        c.TracerProvider.Tracer("github.com/seatbelt-go/seatbelt/jobs"),
		kinds:         map[string]*kindReg{},
		active:        map[int64]*active{},
		stopped:       make(chan struct{}),
		wake:          make(chan struct{}, 1),
		completions:   make(chan *completion, 1024),
		stopCompleter: make(chan struct{}),
		compDone:      make(chan struct{}),
		txSlots:       make(chan struct{}, stageTxLimit(db)),
	}, nil
}

// keptConns is how many of the pool's connections stage transactions leave
// to the client's own statements: the heartbeat's, the claim's and the
// completer's.
const keptConns = 2

// stageTxLimit is how many stage transactions may be open at once: the
// pool's MaxConns less keptConns, at least one. Stages that held every
// connection of the pool (MaxWorkers is 100 by default, pgxpool's MaxConns
// 4 on a small machine) made the heartbeat wait for one behind them: the
// leases ran out while the stages still ran, and the leader gave them to
// another worker, which ran them again.
func stageTxLimit(db *pgxpool.Pool) int {
	return max(1, int(db.Config().MaxConns)-keptConns)
}

// Register adds a kind this client can run. Call it before Start. A kind
// with a field set wrong is refused with [ErrInvalidConfig], naming the
// field.
func (c *Client) Register(k Kind) error {
	reg, err := checkKind(k)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != clientNew {
		return fmt.Errorf("%w: Register(%q) after Start; register every kind before starting the client", ErrInvalidConfig, k.Name)
	}
	if _, dup := c.kinds[k.Name]; dup {
		return fmt.Errorf("%w: kind %q registered twice; register each kind once", ErrInvalidConfig, k.Name)
	}
	c.kinds[k.Name] = reg
	return nil
}

// Start begins claiming and running stages, renewing leases, listening for
// wake-ups and cancels, and competing for leadership. ctx bounds only the
// start-up (checking Config.Deleters, connecting the listener); use Stop
// to end the client.
//
// First it calls each of Config.Deleters with no keys (see [Deleter]), so
// a deleter that cannot work on its table, such as a [DeleteByColumn] on
// a column that is not unique, fails the start with every such table
// named rather than a cleanup later.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.state != clientNew {
		c.mu.Unlock()
		return ErrAlreadyStarted
	}
	c.mu.Unlock()
	if err := checkSchema(ctx, c.db); err != nil {
		return err
	}
	c.checkClock(ctx)
	tables := slices.Sorted(maps.Keys(c.cfg.Deleters))
	if err := checkDeleters(ctx, c.db, c.cfg.Deleters, tables); err != nil {
		return fmt.Errorf("jobs: Config.Deleters: %w", err)
	}
	c.mu.Lock()
	if c.state != clientNew {
		c.mu.Unlock()
		return ErrAlreadyStarted
	}
	c.queueNames = slices.Sorted(maps.Keys(c.cfg.Queues))
	c.queueIdx = make(map[string]int, len(c.queueNames))
	c.queueBusy = make([]atomic.Int64, len(c.queueNames))
	c.queueFull = make([]atomic.Bool, len(c.queueNames))
	for i, q := range c.queueNames {
		c.queueMax = append(c.queueMax, int64(c.cfg.Queues[q].MaxWorkers))
		c.queueIdx[q] = i
	}
	for name, k := range c.kinds {
		c.kindNames = append(c.kindNames, name)
		c.firsts = append(c.firsts, k.Stages[0].Name)
		for _, s := range k.Stages {
			c.pairs = append(c.pairs, name+"\x1f"+s.Name)
		}
	}
	c.mu.Unlock()

	l, err := c.setUpListener(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.state = clientStarted
	c.startedAt = c.cfg.Now()
	c.mu.Unlock()

	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	fetchCtx, stopFetch := context.WithCancel(bgCtx)
	c.stopBG, c.stopFetch = stopBG, stopFetch
	c.fetchDone = make(chan struct{})
	c.bg.Add(2)
	if l != nil {
		c.bg.Add(1)
		go func() { defer c.bg.Done(); c.listen(bgCtx, l) }()
	}
	go func() { defer c.bg.Done(); c.heartbeatLoop(bgCtx) }()
	go func() { defer c.bg.Done(); c.leaderLoop(bgCtx) }()
	go func() { defer close(c.compDone); c.completer() }()
	go func() { defer close(c.fetchDone); c.fetchLoop(fetchCtx) }()
	if len(c.periodic) > 0 {
		c.bg.Add(1)
		go func() { defer c.bg.Done(); c.periodicLoop(bgCtx) }()
	}
	c.log.Info("jobs: client started", "kinds", c.kindNames, "queues", c.queueNames, "max_workers", c.queueMax, "lease", c.cfg.Lease, "listener", l != nil,
		"stage_transactions", cap(c.txSlots))
	return nil
}

// maxClockSkew is how far a client's clock may be from the database's
// before Start warns.
const maxClockSkew = time.Second

// checkClock warns when the client's clock (Config.Now) is more than
// maxClockSkew off the database's. Retries, retention and periodic slots
// are stamped by each replica's clock and compared by the others' (leases
// are on the database's): a replica ahead runs retries early and deletes
// history early, one behind holds back a periodic slot. The cure is the
// machine's time sync, which only its operator can fix; this says where to
// look.
func (c *Client) checkClock(ctx context.Context) {
	before := c.cfg.Now()
	var db time.Time
	if err := c.db.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&db); err != nil {
		return // the client's next statements will say what is wrong
	}
	after := c.cfg.Now()
	trip := after.Sub(before)
	if skew := db.Sub(before.Add(trip / 2)); skew.Abs() > maxClockSkew+trip/2 {
		c.log.Warn("jobs: this client's clock is off from the database's; retries, retention and periodic slots are stamped by each replica's clock and compared by the others': fix the machine's time sync (NTP)",
			"database_ahead_by", skew.Round(time.Millisecond))
	}
}

// checkSchema refuses to start on a database that lacks what this version
// of the package writes, naming the migrations: otherwise every claim
// would fail with an undefined column, logged and retried forever.
func checkSchema(ctx context.Context, db DB) error {
	var jobsTable, queueColumn, queues, periodic, checked bool
	err := db.QueryRow(ctx, `SELECT to_regclass('seatbelt_jobs') IS NOT NULL,
	EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('seatbelt_jobs') AND attname = 'queue' AND NOT attisdropped),
	to_regclass('seatbelt_job_queues') IS NOT NULL, to_regclass('seatbelt_jobs_periodic') IS NOT NULL,
	EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('seatbelt_jobs_periodic') AND attname = 'checked_at' AND NOT attisdropped)`).Scan(&jobsTable, &queueColumn, &queues, &periodic, &checked)
	if err != nil {
		return fmt.Errorf("jobs: checking the jobs tables: %w", err)
	}
	var missing []string
	for _, m := range []struct {
		ok   bool
		what string
	}{{jobsTable, "seatbelt_jobs (migration 0001)"}, {queueColumn, "seatbelt_jobs.queue (0002)"}, {queues, "seatbelt_job_queues (0002)"}, {periodic, "seatbelt_jobs_periodic (0004)"}, {checked || !periodic, "seatbelt_jobs_periodic.checked_at (0006)"}} {
		if !m.ok {
			missing = append(missing, m.what)
		}
	}
	if !jobsTable {
		missing = missing[:1]
	}
	if len(missing) > 0 {
		return fmt.Errorf("jobs: the database lacks %s; apply jobs.Migrations before starting this version (seatbelt migrate up, or migcheck with jobs.Migrations in the sets)", strings.Join(missing, ", "))
	}
	return nil
}

// Stop is the soft stop: it stops claiming, waits for running stages to
// finish, then stops the background loops. If ctx ends first, the stages
// still running are cancelled and released at once without using an
// attempt (another worker runs them again), and Stop returns ctx.Err(). It
// is safe to call on a client never started and more than once; wire it as
// a graceful stop hook.
func (c *Client) Stop(ctx context.Context) error { return c.stop(ctx, false) }

// StopAndCancel is the hard stop: it stops claiming and cancels every
// running stage at once; interrupted stages are released without using an
// attempt. It waits for them within ctx.
func (c *Client) StopAndCancel(ctx context.Context) error { return c.stop(ctx, true) }

func (c *Client) stop(ctx context.Context, hard bool) error {
	c.mu.Lock()
	switch c.state {
	case clientNew, clientStopped:
		c.state = clientStopped
		c.mu.Unlock()
		return nil
	case clientStopping:
		c.mu.Unlock()
		select {
		case <-c.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.state = clientStopping
	c.mu.Unlock()

	begun := time.Now()
	c.stopFetch()
	<-c.fetchDone
	if hard {
		c.cancelActive(ErrStopping)
	}
	done := make(chan struct{})
	go func() { c.stages.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		n := c.cancelActive(ErrStopping)
		c.log.Warn("jobs: stop deadline reached; releasing running stages", "stages", n)
		t := time.NewTimer(releaseGrace)
		select {
		case <-done:
		case <-t.C:
			c.log.Error("jobs: stages ignored cancellation; their leases will expire and they will run again elsewhere", "stages", c.busy.Load())
		}
		t.Stop()
	}
	close(c.stopCompleter)
	<-c.compDone
	c.stopBG()
	c.bg.Wait()
	c.mu.Lock()
	c.state = clientStopped
	close(c.stopped)
	c.mu.Unlock()
	c.log.Info("jobs: client stopped", "took", time.Since(begun), "hard", hard)
	return err
}

func (c *Client) cancelActive(cause error) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.active {
		a.cancel(cause)
	}
	return len(c.active)
}

// IsLeader reports whether this client currently holds leadership (runs
// lease rescue, retention and gauges).
func (c *Client) IsLeader() bool { return c.leader.Load() }

func (c *Client) signalWake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Client) fetchLoop(ctx context.Context) {
	poll := time.NewTimer(c.cfg.PollInterval)
	defer poll.Stop()
	var last time.Time
	want := make([]int32, len(c.queueNames))
	got := make([]int32, len(c.queueNames))
	var batch []claimed // reused: startStage copies each job
	for {
		// What each queue has room for: claims of up to FetchBatch.
		room := false
		for i := range want {
			free := c.queueMax[i] - c.queueBusy[i].Load()
			want[i] = int32(max(0, min(free, int64(c.cfg.FetchBatch))))
			room = room || want[i] > 0
		}
		if room {
			if wait := c.cfg.FetchCooldown - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			var err error
			batch, err = c.claim(ctx, want, batch[:0])
			last = time.Now()
			if err != nil && ctx.Err() == nil {
				c.log.Error("jobs: claiming jobs failed; retrying after the poll interval", "err", err)
			}
			clear(got)
			for i := range batch {
				if c.startStage(&batch[i]) {
					got[c.queueIdx[batch[i].queue]]++
				}
			}
			// A queue that got all it asked for may have more waiting: claim
			// again at once. One with no room left waits for one of its
			// stages to end, which wakes this loop.
			more := false
			for i := range want {
				gotAll := want[i] > 0 && got[i] == want[i]
				more = more || gotAll
				c.queueFull[i].Store(gotAll || c.queueBusy[i].Load() >= c.queueMax[i])
			}
			if more && err == nil {
				continue
			}
		} else {
			for i := range c.queueFull {
				c.queueFull[i].Store(true)
			}
		}
		if !poll.Stop() {
			select {
			case <-poll.C:
			default:
			}
		}
		poll.Reset(c.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-poll.C:
		}
	}
}

// startStage runs the claimed stage *j on a goroutine of its own, which
// uses its own copy: the caller reuses *j for its next claim. It returns
// false, starting nothing, when this client runs that very claim already:
// the server lost the commit of the first claim (claims commit without
// waiting for the WAL flush; see claimSQL) and handed the stage out again
// under the same number. The run under way holds it, as the row now says.
func (c *Client) startStage(claim *claimed) bool {
	r := &StageRun{c: c, job: *claim}
	j := &r.job
	c.mu.Lock()
	if a := c.active[j.id]; a != nil && a.claim == j.claim {
		c.mu.Unlock()
		c.log.Warn("jobs: claimed a stage this worker runs already, under the same claim: the database lost the first claim's commit (did it restart?); the run under way goes on", "job_id", j.id, "stage", j.stage, "claim", j.claim)
		return false
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	c.active[j.id] = &active{claim: j.claim, stage: ctx, cancel: cancel}
	c.mu.Unlock()
	r.queue = c.queueIdx[j.queue]
	c.queueBusy[r.queue].Add(1)
	c.busy.Add(1)
	c.stages.Add(1)
	go func() {
		defer func() {
			r.rollback() // a transaction no outcome ended (none should remain) gives its slot back
			c.mu.Lock()
			if a := c.active[j.id]; a != nil && a.claim == j.claim {
				delete(c.active, j.id)
			}
			c.mu.Unlock()
			cancel(nil)
			if c.freeSlot(r) && c.queueFull[r.queue].Load() {
				c.signalWake()
			}
			c.busy.Add(-1)
			c.stages.Done()
		}()
		c.runStage(ctx, r)
	}()
	return true
}

// freeSlot gives r's place among its queue's MaxWorkers back, once, and
// reports whether this call did.
func (c *Client) freeSlot(r *StageRun) bool {
	if !r.slotFreed.CompareAndSwap(false, true) {
		return false
	}
	c.queueBusy[r.queue].Add(-1)
	return true
}

// cancelJob cancels the running stage of job id; with claim > 0 only if it
// is still that claim (the job may have moved on to its next stage here).
func (c *Client) cancelJob(id, claim int64, cause error) {
	c.mu.Lock()
	a := c.active[id]
	c.mu.Unlock()
	if a != nil && (claim == 0 || a.claim == claim) {
		a.cancel(cause)
	}
}

// heartbeatLoop renews the leases of running stages. A stage whose lease
// was taken by another attempt is cancelled with ErrLeaseLost; one whose
// job was cancelled (a missed notification) with ErrCancelled.
func (c *Client) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		ids := make([]int64, 0, len(c.active))
		claims := make([]int64, 0, len(c.active))
		for id, a := range c.active {
			ids, claims = append(ids, id), append(claims, a.claim)
		}
		c.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		rows, err := c.db.Query(ctx, renewSQL, ids, claims, c.cfg.Lease.Seconds(), c.cfg.WorkerID)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Error("jobs: renewing leases failed", "err", err, "stages", len(ids))
			}
			continue
		}
		// held: the rows the heartbeat locked, and whether each is still
		// this attempt's; a row not in it was locked by another transaction.
		held := make(map[int64]bool, len(ids))
		var id int64 // declared once: Scan makes them escape
		var mine, cancelled bool
		for rows.Next() {
			if rows.Scan(&id, &mine, &cancelled) != nil {
				continue
			}
			held[id] = mine
			if cancelled {
				c.cancelJob(id, 0, ErrCancelled)
			}
		}
		if rows.Err() != nil {
			continue
		}
		for i, id := range ids {
			// Either another attempt owns it now, or this attempt just
			// finished and the job moved on: only the first is a loss.
			if mine, locked := held[id]; locked && !mine {
				c.cancelJob(id, claims[i], ErrLeaseLost)
			}
		}
		c.mu.Lock()
		for i, id := range ids {
			a := c.active[id]
			_, locked := held[id]
			switch {
			case a == nil || a.claim != claims[i]:
			case locked:
				a.skipped = 0
			default:
				// Skipped twice in a row: locked for longer than this
				// client's own writes hold a row.
				if a.skipped++; a.skipped >= 2 && !a.waiting && c.waitingRenewals < maxWaitingRenewals {
					c.renewWhenFree(ctx, id, a)
				}
			}
		}
		c.mu.Unlock()
	}
}

// maxWaitingRenewals bounds the renewals that wait for a row at once: each
// holds a connection of the pool while it waits.
const maxWaitingRenewals = 2

// renewWhenFree renews the lease of stage id (a), whose row another
// transaction has held through two heartbeats (renewSQL skips it), waiting
// for the row on a goroutine of its own while the stage runs. It renews the
// lease the moment the row is released, before the leader's rescue can
// take the stage whose lease ran out meanwhile: first in the row's lock
// queue is not enough, since a statement that finds the row free in the
// moment of its release takes it without queueing, so the renewal first
// takes the job's renewal lock (renewingLockKey), and the rescue leaves
// alone a stage whose renewal lock it cannot take. It waits with no
// lock_timeout or statement_timeout for as long as the stage runs: a wait
// that ended and queued again left a moment without the renewal lock, and
// a release in that moment let the rescue run the stage a second time.
// When the stage or the client ends, the cancelled wait closes its
// connection (the pool opens another); the server's backend waits on until
// the row is released, then finds its client gone and rolls the renewal
// back. One row a statement, and the renewal lock is waited for only by
// another renewal of the same job, which holds nothing: a renewal that
// waits cannot close a deadlock. It is called with c.mu held.
func (c *Client) renewWhenFree(bgCtx context.Context, id int64, a *active) {
	a.waiting = true
	c.waitingRenewals++
	claim := a.claim
	ctx, cancel := context.WithCancel(bgCtx)
	stop := context.AfterFunc(a.stage, cancel)
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer func() {
			stop()
			cancel()
			c.mu.Lock()
			a.waiting = false
			c.waitingRenewals--
			c.mu.Unlock()
		}()
		var cancelled bool
		err := pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', '0', true), set_config('statement_timeout', '0', true)"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+renewingLockKey("$1::bigint")+`)`, id); err != nil {
				return err
			}
			return tx.QueryRow(ctx, renewOneSQL, id, claim, c.cfg.Lease.Seconds(), c.cfg.WorkerID).Scan(&cancelled)
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			c.cancelJob(id, claim, ErrLeaseLost)
		case err != nil:
			if ctx.Err() == nil {
				c.log.Error("jobs: renewing a lease failed", "err", err, "job_id", id)
			}
		case cancelled:
			c.cancelJob(id, 0, ErrCancelled)
		}
	}()
}

func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03" // lock_not_available
}

// renewingLockKey is the key of the transaction advisory lock that a
// renewal waiting for the row of job id holds (renewWhenFree): 1785684595
// (0x6a6f6273, "jobs") and the id's low 31 bits. Two jobs 2^31 apart share
// a key: the rescue of one is put off while the other's renewal waits.
func renewingLockKey(id string) string {
	return `1785684595, (` + id + ` % 2147483648)::int`
}

// renewOneSQL renews the lease of one stage ($1, claim $2), waiting for its
// row. It locks the row first: an UPDATE that waits for a row computes the
// new values before the wait, and would stamp a lease that ran out while
// it waited; locked first, the update reads the clock after.
var renewOneSQL = `
WITH l AS MATERIALIZED (SELECT id FROM seatbelt_jobs WHERE id = $1::bigint FOR NO KEY UPDATE)
UPDATE seatbelt_jobs j SET lease_until = ` + leaseUntilSQL(3) + `
FROM l WHERE j.id = l.id AND j.claim = $2::bigint AND j.worker = $4::text
RETURNING j.cancel_requested`

// renewSQL extends the leases of this client's running stages ($1, with
// their claims $2) and returns each row it could lock: whether it is still
// this attempt's (held), and whether a cancel was asked. It skips a row
// that another transaction has locked (the completer writing the stage's
// end, a Cancel in a caller's open transaction) rather than wait: waiting
// for one row held every stage's lease up, and a heartbeat that never
// waits cannot close a deadlock. A row skipped is renewed by
// renewWhenFree as soon as it is released.
var renewSQL = `
WITH locked AS MATERIALIZED (
	SELECT id FROM seatbelt_jobs WHERE id = ANY($1::bigint[]) FOR NO KEY UPDATE SKIP LOCKED
), u AS (
	UPDATE seatbelt_jobs j SET lease_until = ` + leaseUntilSQL(3) + `
	FROM unnest($1::bigint[], $2::bigint[]) AS a(id, claim)
	WHERE j.id = ANY(ARRAY(SELECT id FROM locked)) AND ` + heldBySQL("a", 4) + `
	RETURNING j.id, j.cancel_requested
)
SELECT l.id, u.id IS NOT NULL, coalesce(u.cancel_requested, false) FROM locked l LEFT JOIN u ON u.id = l.id`

var errClientStopped = errors.New("jobs: client stopped before the completion was written; the lease will expire and the stage run again")
