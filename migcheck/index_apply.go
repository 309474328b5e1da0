package migcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// IndexApplyOpts tunes one [Indexer.Apply]. Nil means the defaults.
type IndexApplyOpts struct {
	// DryRun returns the plan and builds nothing. Defaults to false.
	DryRun bool
	// Replace rebuilds an index whose definition differs from its file: the
	// new one is built under a temporary name, then swapped in, then the
	// old one dropped. Defaults to false: a difference is reported only.
	Replace bool
	// OnStep is called before each step of the plan runs. Defaults to nil.
	OnStep func(IndexStep)
	// OnOldTransactions is called before a build with the transactions
	// older than Config.OldTransaction that it will wait for. Defaults to
	// logging them.
	OnOldTransactions func(index string, txs []OldTransaction)
	// OnProgress is called every Config.ProgressInterval while a build
	// runs. Defaults to nil.
	OnProgress func(IndexProgress)
}

// IndexAction is what Apply does for one declared index.
type IndexAction string

const (
	ActionBuild   IndexAction = "build"   // missing: build it
	ActionRebuild IndexAction = "rebuild" // INVALID leftover of its own name: drop it, build again
	ActionReplace IndexAction = "replace" // different and Replace: build beside, swap, drop the old
	ActionReport  IndexAction = "report"  // different without Replace, or being built by someone else
	ActionFail    IndexAction = "fail"    // no table, or the statement fails here
)

// IndexStep is one step of Apply's plan.
type IndexStep struct {
	Index  string      `json:"index"`
	Table  string      `json:"table"`
	Action IndexAction `json:"action"`
	SQL    string      `json:"sql"`
	// Why says why, for report and fail.
	Why string `json:"why,omitempty"`
}

// OldTransaction is a transaction open longer than Config.OldTransaction,
// which a CREATE INDEX CONCURRENTLY waits for before it can finish.
type OldTransaction struct {
	PID         int           `json:"pid"`
	Age         time.Duration `json:"age"`
	State       string        `json:"state"`
	Application string        `json:"application"`
	Query       string        `json:"query"`
}

func (o OldTransaction) String() string {
	return fmt.Sprintf("pid %d, open %v, %s, application %q: %s", o.PID, o.Age.Round(time.Second), o.State, o.Application, shorten(o.Query))
}

// IndexBuild is one build Apply ran, as recorded in the ledger.
type IndexBuild struct {
	Index    string        `json:"index"`
	Action   IndexAction   `json:"action"`
	Duration time.Duration `json:"duration"`
	Attempts int           `json:"attempts"`
}

// IndexResult is what Apply did.
type IndexResult struct {
	// Plan lists every step, in order; with DryRun nothing of it ran.
	Plan []IndexStep `json:"plan"`
	// Built lists the builds that completed.
	Built []IndexBuild `json:"built"`
	// Reported lists the steps that were reported, not run (an index that
	// differs from its file without Replace, one built by someone else,
	// one that cannot be built here).
	Reported []IndexStep `json:"reported,omitempty"`
	// LockWait is how long Apply waited for another builder.
	LockWait time.Duration `json:"lock_wait"`
}

// ErrIndexesNotApplied means Apply finished its builds but some declared
// indexes are still not as their files say; the error lists them.
var ErrIndexesNotApplied = errors.New("migcheck: some indexes are not as declared")

// IndexBuildError is returned by Apply when a build fails. An INVALID index
// the build left was dropped when Dropped is true.
type IndexBuildError struct {
	// Index is the declared index.
	Index    string
	Attempts int
	// Leftover is the index the build created, schema-qualified and quoted
	// for SQL: Index itself, or its temporary name when it replaced Index.
	Leftover string
	// Dropped says the INVALID leftover of the failed build was dropped.
	// It is false when the build failed before it created one.
	Dropped bool
	// DropErr is why it could not be dropped, if it could not.
	DropErr error
	Err     error
	// Waiting lists the old transactions the build was last seen waiting
	// for when it failed.
	Waiting []OldTransaction
}

func (e *IndexBuildError) Error() string {
	s := fmt.Sprintf("migcheck: building index %s failed", e.Index)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	s += fmt.Sprintf(": %v", e.Err)
	switch {
	case e.Dropped:
		s += fmt.Sprintf("; the INVALID index it left was dropped (%s)", e.Leftover)
	case e.DropErr != nil:
		s += fmt.Sprintf("; the INVALID index it left could not be dropped (%v): run DROP INDEX CONCURRENTLY IF EXISTS %s, or apply again, which drops it", e.DropErr, e.Leftover)
	}
	if len(e.Waiting) > 0 {
		s += "; it was waiting for these transactions, end them or wait until they end, then apply again:"
		for _, o := range e.Waiting {
			s += "\n  - " + o.String() + fmt.Sprintf(" (SELECT pg_terminate_backend(%d))", o.PID)
		}
	}
	return s
}

func (e *IndexBuildError) Unwrap() error { return e.Err }

// Apply builds every declared index that is missing, one at a time, with
// CREATE INDEX CONCURRENTLY outside any transaction. The build waits, with
// no lock_timeout, for the transactions older than it (it reports those
// older than Config.OldTransaction beforehand); the drops and renames around
// it run under Config.LockTimeout. An INVALID index of a declared name is
// dropped and built again (an index no file declares is never touched). An
// index whose definition differs from its file is reported, or rebuilt
// with opts.Replace. Each build is recorded in the ledger table before it
// starts and again when it ends.
//
// Cancelling ctx cancels the running build; Apply then drops the INVALID
// index it left and says so in the returned [*IndexBuildError].
//
// What a kill -9 of the builder leaves: its session asks the server to check
// for a dead client every second (client_connection_check_interval), so
// the build stops and leaves an INVALID index, and the ledger row stays
// "running". The next Apply marks that row "interrupted", drops the
// leftover and builds the index again.
func (x *Indexer) Apply(ctx context.Context, opts *IndexApplyOpts) (res *IndexResult, err error) {
	if opts == nil {
		opts = &IndexApplyOpts{}
	}
	res = &IndexResult{}
	if opts.DryRun {
		rep, err := x.Status(ctx)
		if err != nil {
			return nil, err
		}
		res.Plan = x.plan(rep, opts.Replace)
		return res, nil
	}
	conn, err := x.session(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := releaseLock(conn); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if res.LockWait, err = x.lock(ctx, conn); err != nil {
		return res, err
	}
	if err := x.ensureLedger(ctx, conn); err != nil {
		return res, err
	}
	if err := x.markInterrupted(ctx, conn); err != nil {
		return res, err
	}
	if err := x.dropRetired(ctx, conn); err != nil {
		return res, err
	}
	rep, err := x.status(ctx, conn, false)
	if err != nil {
		return res, err
	}
	res.Plan = x.plan(rep, opts.Replace)
	byName := map[string]Index{}
	for _, ix := range x.idx {
		byName[ix.Name] = ix
	}
	schemas := map[string]string{}
	for _, s := range rep.Indexes {
		schemas[s.Name] = s.schema
	}
	for _, st := range res.Plan {
		if opts.OnStep != nil {
			opts.OnStep(st)
		}
		ix := byName[st.Index]
		switch st.Action {
		case ActionReport, ActionFail:
			res.Reported = append(res.Reported, st)
			continue
		case ActionRebuild:
			if _, err := x.dropInvalid(ctx, conn, schemas[ix.Name], ix.Name); err != nil {
				return res, fmt.Errorf("migcheck: dropping the INVALID index %s before building it again: %w", ix.Name, err)
			}
		}
		name := ix.Name
		if st.Action == ActionReplace {
			name = tempName(ix.Name, replaceSuffix)
		}
		b, err := x.build(ctx, conn, ix, st, name, schemas[ix.Name], opts)
		if err != nil {
			return res, err
		}
		if st.Action == ActionReplace {
			if err := x.swap(ctx, conn, schemas[ix.Name], ix.Name); err != nil {
				return res, err
			}
		}
		x.cfg.Logger.Info("migcheck: index built", "index", ix.Name, "action", st.Action, "duration", b.Duration, "attempts", b.Attempts)
		res.Built = append(res.Built, b)
	}
	if len(res.Reported) > 0 {
		msg := ""
		for _, r := range res.Reported {
			msg += fmt.Sprintf("\n  - %s: %s", r.Index, r.Why)
		}
		return res, fmt.Errorf("%w:%s", ErrIndexesNotApplied, msg)
	}
	return res, nil
}

func (x *Indexer) plan(rep *IndexReport, replace bool) []IndexStep {
	var out []IndexStep
	for i, s := range rep.Indexes {
		ix := x.idx[i]
		st := IndexStep{Index: ix.Name, Table: s.Table, SQL: createSQL(ix, ix.Name, s.Table, true)}
		switch s.State {
		case IndexValid:
			continue
		case IndexMissing:
			st.Action = ActionBuild
		case IndexInvalid:
			st.Action = ActionRebuild
			st.Why = "an INVALID index of this name was left by a failed or killed build"
		case IndexBuilding:
			st.Action, st.Why = ActionReport, s.Message+"; wait for it to finish (or end that session, then apply again)"
		case IndexDifferent:
			if replace {
				st.Action = ActionReplace
				st.SQL = createSQL(ix, tempName(ix.Name, replaceSuffix), s.Table, true)
				st.Why = fmt.Sprintf("the database has %q; build the new one as %s, swap the names, drop the old one", indexBody(s.Definition), tempName(ix.Name, replaceSuffix))
			} else {
				st.Action, st.Why = ActionReport, s.Message
			}
		default:
			st.Action, st.Why = ActionFail, s.Message
		}
		out = append(out, st)
	}
	return out
}

// session opens the builder's own session: named for pg_stat_activity,
// with lock_timeout (lifted for the builds themselves), no
// statement_timeout, and a check for a dead client.
func (x *Indexer) session(ctx context.Context) (*pgx.Conn, error) {
	cc := x.db.Config().ConnConfig.Copy()
	// Cancel a running build from another session when ctx ends: a
	// dropped connection alone does not stop it.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("migcheck: connecting to build indexes: %w", err)
	}
	if err := refusePooled(ctx, conn, "index builds need"); err != nil {
		return nil, err
	}
	host := x.cfg.Host
	if len(host) > 24 {
		host = host[:24]
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("SET application_name = %s; SET lock_timeout = %s; SET statement_timeout = 0",
		quoteLiteral(fmt.Sprintf("%s %s:%d", IndexAppName, host, os.Getpid())), quoteLiteral(ms(x.cfg.LockTimeout))))
	if err == nil {
		// A builder killed with SIGKILL must not leave a build running
		// with nobody to record it: the server checks the client every
		// second and stops the build. (PostgreSQL 14 and later.)
		_, err = conn.Exec(ctx, "SET client_connection_check_interval = '1s'")
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42704" { // unrecognized parameter, before 14
			err = nil
		}
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("migcheck: setting up the index session: %w", err)
	}
	return conn, nil
}

// lock takes IndexLockKey on conn, polling like the migration lock.
func (x *Indexer) lock(ctx context.Context, conn *pgx.Conn) (time.Duration, error) {
	start := x.clock.Now()
	logged := false
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::bigint)", IndexLockKey).Scan(&got); err != nil {
			return 0, fmt.Errorf("migcheck: taking the index lock: %w", err)
		}
		if got {
			return x.clock.Now().Sub(start), nil
		}
		if !logged {
			x.cfg.Logger.Info("migcheck: another index builder holds the lock; waiting", "lock_wait", x.cfg.LockWait)
			logged = true
		}
		if !x.clock.Now().Add(x.cfg.LockPoll).Before(start.Add(x.cfg.LockWait)) {
			return 0, fmt.Errorf("%w after %v: another index builder (application_name %s...) holds it; wait for it, or end it with pg_terminate_backend", ErrLockTimeout, x.cfg.LockWait, IndexAppName)
		}
		if err := x.clock.Sleep(ctx, x.cfg.LockPoll); err != nil {
			return 0, fmt.Errorf("migcheck: waiting for the index lock: %w", err)
		}
	}
}

// build runs one CREATE INDEX CONCURRENTLY and records it. It is not
// retried: it runs without lock_timeout (see createConcurrently), so it
// fails only for a reason a retry would meet again.
func (x *Indexer) build(ctx context.Context, conn *pgx.Conn, ix Index, st IndexStep, name, schema string, opts *IndexApplyOpts) (IndexBuild, error) {
	const attempt = 1
	sql := createSQL(ix, name, st.Table, true)
	leftover := pgx.Identifier{schema, name}.Sanitize()
	old, err := x.oldTransactions(ctx, conn)
	if err != nil {
		return IndexBuild{}, err
	}
	if len(old) > 0 {
		if opts.OnOldTransactions != nil {
			opts.OnOldTransactions(ix.Name, old)
		} else {
			for _, o := range old {
				x.cfg.Logger.Warn("migcheck: the index build will wait for this transaction", "index", ix.Name, "transaction", o.String())
			}
		}
	}
	id, err := x.recordStart(ctx, conn, ix, st.Action, attempt)
	if err != nil {
		return IndexBuild{}, err
	}
	start := time.Now()
	stop := x.watch(conn.PgConn().PID(), name, ix.Name, opts.OnProgress)
	err = x.createConcurrently(ctx, conn, sql)
	waiting := stop()
	d := time.Since(start)
	// What follows runs with a context of its own, since ctx may be why the
	// build failed.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if rerr := x.setLockTimeout(dctx, conn, x.cfg.LockTimeout); rerr != nil {
		if err == nil {
			return IndexBuild{}, fmt.Errorf("migcheck: index %s was built, but restoring lock_timeout failed: %w", ix.Name, rerr)
		}
		// Without lock_timeout a drop could queue every query on the table
		// behind it: leave the leftover to the next apply.
		return IndexBuild{}, &IndexBuildError{Index: ix.Name, Attempts: attempt, Leftover: leftover, DropErr: rerr, Err: err, Waiting: waiting}
	}
	if err == nil {
		if err := x.recordEnd(dctx, conn, id, "built", "", d); err != nil {
			return IndexBuild{}, err
		}
		return IndexBuild{Index: ix.Name, Action: st.Action, Duration: d, Attempts: attempt}, nil
	}
	dropped, dropErr := x.dropInvalid(dctx, conn, schema, name)
	outcome := "failed"
	if ctx.Err() != nil {
		outcome = "cancelled"
	}
	_ = x.recordEnd(dctx, conn, id, outcome, err.Error(), d)
	be := &IndexBuildError{Index: ix.Name, Attempts: attempt, Leftover: leftover, Dropped: dropped, DropErr: dropErr, Err: err, Waiting: waiting}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		be.Err = fmt.Errorf("%w: cancelled because %w", err, ctx.Err())
	}
	return IndexBuild{}, be
}

// createConcurrently runs sql, a CREATE INDEX CONCURRENTLY, with no
// lock_timeout: after its scans the build waits for every transaction older
// than it, and a lock_timeout there would throw the finished build away, to
// start again from scratch behind the same transactions. Waiting is safe:
// the lock it takes first, SHARE UPDATE EXCLUSIVE, blocks no ordinary read
// or write, nor does its request while it queues for it.
func (x *Indexer) createConcurrently(ctx context.Context, conn *pgx.Conn, sql string) error {
	if err := x.setLockTimeout(ctx, conn, 0); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, sql)
	return err
}

// setLockTimeout sets the session's lock_timeout; 0 is none.
func (x *Indexer) setLockTimeout(ctx context.Context, conn *pgx.Conn, d time.Duration) error {
	if _, err := conn.Exec(ctx, "SET lock_timeout = "+quoteLiteral(ms(d))); err != nil {
		return fmt.Errorf("migcheck: setting lock_timeout: %w", err)
	}
	return nil
}

// watch reports the progress of the build on backend pid every
// ProgressInterval, from a pool connection, until the returned func is
// called. That func returns the old transactions the build was last seen
// waiting for.
func (x *Indexer) watch(pid uint32, name, declared string, report func(IndexProgress)) func() []OldTransaction {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var waitingFor int
	wg.Add(1)
	go func() {
		defer wg.Done()
		var phase string
		var phaseStart time.Time
		t := time.NewTicker(x.cfg.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var relid int64
			p, err := scanProgress(x.db.QueryRow(ctx, progressSQL+" AND p.pid = $1", int(pid)), &relid)
			if err != nil {
				continue
			}
			p.Index = declared
			now := time.Now()
			if p.Phase != phase {
				phase, phaseStart = p.Phase, now
			}
			done, total := p.BlocksDone, p.BlocksTotal
			if total == 0 {
				done, total = p.TuplesDone, p.TuplesTotal
			}
			if done > 0 && total > done {
				el := now.Sub(phaseStart)
				p.ETA = time.Duration(float64(el) * float64(total-done) / float64(done))
			}
			mu.Lock()
			waitingFor = p.WaitingFor
			mu.Unlock()
			if report != nil {
				report(p)
			}
		}
	}()
	return func() []OldTransaction {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if waitingFor == 0 {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o, err := x.transactions(ctx, x.db, "pid = $1", waitingFor)
		if err != nil || len(o) == 0 {
			return []OldTransaction{{PID: waitingFor, State: "unknown (it has ended)"}}
		}
		return o
	}
}

// oldTransactions lists the transactions of this database older than
// Config.OldTransaction that hold a snapshot or have written: a CREATE
// INDEX CONCURRENTLY waits for each. (An idle READ COMMITTED transaction
// that has not written holds neither, and is not waited for.)
func (x *Indexer) oldTransactions(ctx context.Context, q querier) ([]OldTransaction, error) {
	return x.transactions(ctx, q, "xact_start < now() - $1::float8 * interval '1 second'", x.cfg.OldTransaction.Seconds())
}

func (x *Indexer) transactions(ctx context.Context, q querier, where string, arg any) ([]OldTransaction, error) {
	rows, err := q.Query(ctx, `SELECT pid, extract(epoch FROM now() - xact_start)::float8, coalesce(state, ''), coalesce(application_name, ''), coalesce(query, '')
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
		AND backend_type = 'client backend' AND application_name NOT LIKE '`+IndexAppName+`%'
		AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) AND `+where+` ORDER BY xact_start`, arg)
	if err != nil {
		return nil, fmt.Errorf("migcheck: listing open transactions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (OldTransaction, error) {
		var o OldTransaction
		var age float64
		err := r.Scan(&o.PID, &age, &o.State, &o.Application, &o.Query)
		o.Age = time.Duration(age * float64(time.Second))
		return o, err
	})
}

// dropInvalid drops index name in schema if it exists and is INVALID, and
// says whether it did. A valid index is never dropped here.
func (x *Indexer) dropInvalid(ctx context.Context, conn *pgx.Conn, schema, name string) (dropped bool, err error) {
	var invalid bool
	err = conn.QueryRow(ctx, `SELECT NOT i.indisvalid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_index i ON i.indexrelid = c.oid
		WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&invalid)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !invalid {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := x.dropIndex(ctx, conn, schema, name); err != nil {
		return false, err
	}
	return true, nil
}

func (x *Indexer) dropIndex(ctx context.Context, conn *pgx.Conn, schema, name string) error {
	_, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+pgx.Identifier{schema, name}.Sanitize())
	return err
}

// dropRetired drops what a replacement killed half-way left: the old index
// renamed away (name_sbold), and a new one not yet swapped in (name_sbnew),
// which the next replacement builds again. It drops only what it can tell
// is its own: an index of that name on the declared table, in the table's
// schema, of a declared index the ledger shows a replacement of. Any other
// index of such a name, valid or not, is someone else's and stays.
func (x *Indexer) dropRetired(ctx context.Context, conn *pgx.Conn) error {
	var names, tables, temps []string
	for _, ix := range x.idx {
		for _, suffix := range []string{replaceSuffix, retireSuffix} {
			names, tables, temps = append(names, ix.Name), append(tables, ix.Table), append(temps, tempName(ix.Name, suffix))
		}
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname
		FROM unnest($1::text[], $2::text[], $3::text[]) AS d(name, tbl, temp)
		JOIN pg_class t ON t.oid = to_regclass(d.tbl)
		JOIN pg_index i ON i.indrelid = t.oid
		JOIN pg_class c ON c.oid = i.indexrelid AND c.relname = d.temp AND c.relnamespace = t.relnamespace
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE EXISTS (SELECT 1 FROM `+quoteIdent(x.cfg.IndexLedgerTable)+` l WHERE l.index_name = d.name AND l.action = $4::text)`,
		names, tables, temps, string(ActionReplace))
	if err != nil {
		return fmt.Errorf("migcheck: looking for leftovers of a replacement: %w", err)
	}
	type left struct{ schema, name string }
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (left, error) {
		var l left
		return l, r.Scan(&l.schema, &l.name)
	})
	if err != nil {
		return fmt.Errorf("migcheck: looking for leftovers of a replacement: %w", err)
	}
	for _, l := range found {
		x.cfg.Logger.Info("migcheck: dropping the leftover of an interrupted replacement", "index", l.schema+"."+l.name)
		if err := x.dropIndex(ctx, conn, l.schema, l.name); err != nil {
			return fmt.Errorf("migcheck: dropping %s, left by an interrupted replacement: %w", pgx.Identifier{l.schema, l.name}.Sanitize(), err)
		}
	}
	return nil
}

// swap puts the replacement built as name_sbnew in place of name, in one
// transaction, then drops the old index. A kill between the two leaves
// name_sbold, which the next Apply drops.
func (x *Indexer) swap(ctx context.Context, conn *pgx.Conn, schema, name string) error {
	backoff := x.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "ALTER INDEX "+pgx.Identifier{schema, name}.Sanitize()+" RENAME TO "+pgx.Identifier{tempName(name, retireSuffix)}.Sanitize()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "ALTER INDEX "+pgx.Identifier{schema, tempName(name, replaceSuffix)}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize())
			return err
		})
		var pe *pgconn.PgError
		if err != nil && errors.As(err, &pe) && pe.Code == "55P03" && attempt <= x.cfg.LockRetries {
			if err := x.clock.Sleep(ctx, backoff); err != nil {
				return err
			}
			backoff *= 2
			continue
		}
		if err != nil {
			return fmt.Errorf("migcheck: swapping in the replacement of %s (built as %s, which the next apply drops and builds again): %w", name, tempName(name, replaceSuffix), err)
		}
		break
	}
	if err := x.dropIndex(ctx, conn, schema, tempName(name, retireSuffix)); err != nil {
		return fmt.Errorf("migcheck: dropping the replaced index, now %s (the next apply drops it): %w", tempName(name, retireSuffix), err)
	}
	return nil
}
