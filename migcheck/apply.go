package migcheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Plan is what Apply is about to do, given to Config.BeforeApply.
type Plan struct {
	// Pending lists, per set in apply order, the migrations to run.
	Pending []SetPlan
}

// SetPlan is the pending part of one set.
type SetPlan struct {
	Set        string
	From       int64 // current version, -1 for none
	Migrations []Migration
}

// Applied describes one migration Apply ran and recorded.
type Applied struct {
	Set      string
	Version  int64
	File     string
	SHA256   string
	Duration time.Duration
	Attempts int

	baseline bool // recorded by Baseline, not applied
}

// Result is what Apply did.
type Result struct {
	// Applied lists the migrations run, in order; empty when the database
	// was up to date.
	Applied []Applied
	// LockWait is how long Apply waited for another runner.
	LockWait time.Duration
	// Report is the Verify report taken, under the lock, before applying.
	Report *Report
}

// refusingKinds stop Apply before it changes anything. Unrecorded versions
// are among them: once Apply records a version above them, Verify can no
// longer tell them from files added late and calls them out-of-order, which
// fails every start; Baseline records them first.
var refusingKinds = map[Kind]bool{
	KindDirty: true, KindChecksumMismatch: true, KindMissingFile: true, KindOutOfOrder: true, KindUnrecorded: true,
}

// Apply runs every pending migration of every set, sets in order, one runner
// at a time across processes. It waits for another runner by polling
// [LockKey], checks the database first (refusing on dirty state, edited or
// missing files, out-of-order files and applied versions without a ledger
// entry, which [Migrator.Baseline] records; see [ErrRefused]), calls
// Config.BeforeApply, then runs each migration through golang-migrate with
// lock_timeout and statement_timeout set, retrying one that failed on
// lock_timeout, and records each in the ledger. A second runner started at
// the same moment waits, then finds nothing to do.
//
// A failed migration returns a [*MigrationError] whose message says how to
// recover.
func (m *Migrator) Apply(ctx context.Context) (res *Result, err error) {
	conn, waited, err := m.acquireLock(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := releaseLock(conn); rerr != nil && err == nil {
			err = rerr
		}
	}()
	res = &Result{LockWait: waited}
	if err := m.ensureLedger(ctx, conn); err != nil {
		return res, err
	}
	rep, err := m.verify(ctx, conn, true)
	if err != nil {
		return res, err
	}
	res.Report = rep
	var refuse []Problem
	for _, p := range rep.Problems {
		if refusingKinds[p.Kind] || (p.Kind == KindAhead && m.cfg.AheadIsError) {
			refuse = append(refuse, p)
		}
	}
	if len(refuse) > 0 {
		return res, fmt.Errorf("%w: %w", ErrRefused, &VerifyError{Problems: refuse})
	}
	var plan Plan
	for i, st := range rep.Sets {
		if len(st.Pending) == 0 {
			continue
		}
		sp := SetPlan{Set: st.Set, From: st.Applied}
		for _, v := range st.Pending {
			sp.Migrations = append(sp.Migrations, *m.sets[i].byVersion[v])
		}
		plan.Pending = append(plan.Pending, sp)
	}
	if len(plan.Pending) == 0 {
		m.cfg.Logger.Info("migcheck: database is up to date", "sets", len(m.sets))
		return res, nil
	}
	if m.cfg.BeforeApply != nil {
		if err := m.cfg.BeforeApply(ctx, plan); err != nil {
			return res, fmt.Errorf("migcheck: before-apply hook failed, nothing was applied: %w", err)
		}
	}
	for _, sp := range plan.Pending {
		s := m.set(sp.Set)
		if err := m.applySet(ctx, conn, s, sp, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (m *Migrator) set(name string) *loadedSet {
	for i := range m.sets {
		if m.sets[i].Name == name {
			return &m.sets[i]
		}
	}
	return nil
}

func (m *Migrator) applySet(ctx context.Context, conn *pgx.Conn, s *loadedSet, sp SetPlan, res *Result) error {
	e, err := m.newEngine(ctx, conn, s)
	if err != nil {
		return fmt.Errorf("migcheck: set %q: setting up golang-migrate: %w", s.Name, err)
	}
	defer e.close()
	prev := sp.From
	for i := range sp.Migrations {
		mig := &sp.Migrations[i]
		a, err := m.runOne(ctx, e, s, mig, prev)
		if err != nil {
			return err
		}
		m.cfg.Logger.Info("migcheck: applied migration", "set", s.Name, "version", mig.Version, "file", mig.File, "duration", a.Duration, "attempts", a.Attempts)
		res.Applied = append(res.Applied, a)
		if m.cfg.OnApplied != nil {
			m.cfg.OnApplied(ctx, a)
		}
		prev = mig.Version
	}
	return nil
}

// runOne applies one migration, retrying it after lock_timeout when the file
// ran as one transaction (so the failure undid it and left the version as it
// was).
func (m *Migrator) runOne(ctx context.Context, e *engine, s *loadedSet, mig *Migration, prev int64) (Applied, error) {
	tx := transactional(mig.content)
	backoff := m.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Applied{}, fmt.Errorf("migcheck: set %q: stopped before migration %d: %w", s.Name, mig.Version, err)
		}
		a, err := e.run(ctx, mig, attempt)
		if err == nil {
			return a, nil
		}
		pe := e.drv.lastErr
		lockTimeout := pe != nil && pe.Code == "55P03"
		if lockTimeout && tx && attempt <= m.cfg.LockRetries {
			m.cfg.Logger.Warn("migcheck: migration hit lock_timeout; retrying", "set", s.Name, "version", mig.Version, "attempt", attempt, "backoff", backoff)
			if err := m.clock.Sleep(ctx, backoff); err != nil {
				return Applied{}, fmt.Errorf("migcheck: set %q: waiting to retry migration %d: %w", s.Name, mig.Version, err)
			}
			backoff *= 2
			continue
		}
		me := &MigrationError{Set: s.Name, Table: s.table(), Version: mig.Version, File: mig.File, Previous: prev,
			Transactional: tx, Attempts: attempt, Err: err}
		if tx {
			me.Recovery = "fix the file, then " + m.cfg.Hint(OpApply, s.Name, 0)
		} else {
			me.Recovery = m.cfg.Hint(OpForce, s.Name, prev)
		}
		if pe != nil {
			me.Err = pe
			me.Line, me.Column = position(e.drv.lastSQL, pe.Position)
		}
		if ctx.Err() != nil && !errors.Is(me.Err, ctx.Err()) {
			me.Err = fmt.Errorf("%w: cancelled because %w", me.Err, ctx.Err())
		}
		return Applied{}, me
	}
}
