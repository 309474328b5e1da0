package migcheck

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// BaselineOpts are the options of [Migrator.Baseline]; nil means defaults.
type BaselineOpts struct {
	// Applied names, per set, versions Verify reports as out-of-order that
	// the operator knows were applied: by plain golang-migrate before a
	// newer version was recorded, or completed by hand and forced by an
	// older migcheck. The database cannot tell them from a file added after
	// later versions ran, which never ran and must be renumbered instead:
	// both are a version at or below the set's version with no ledger row
	// below a recorded one. So Baseline records such a version only when it
	// is named here. A named version that is not out-of-order or unrecorded
	// is refused.
	Applied map[string][]int64
}

// Baseline records in the ledger the current files of every version that is
// applied (at or below the set's version) but has no ledger entry below the
// newest recorded one: versions applied by plain golang-migrate before
// migcheck was used ([KindUnrecorded]). Out-of-order versions are recorded
// only when opts.Applied names them (see [BaselineOpts]). Everything is
// recorded in one transaction, or nothing. It holds the lock and returns
// what it recorded.
func (m *Migrator) Baseline(ctx context.Context, opts *BaselineOpts) (recorded []Applied, err error) {
	var named map[string][]int64
	if opts != nil {
		named = opts.Applied
	}
	for set, vs := range named {
		s := m.set(set)
		if s == nil {
			return nil, fmt.Errorf("%w: no set named %q", ErrBadSet, set)
		}
		for _, v := range vs {
			if s.byVersion[v] == nil {
				return nil, fmt.Errorf("%w: set %q has no migration %d (its versions: %s); name an out-of-order version Verify reports",
					ErrNoSuchVersion, s.Name, v, s.versions())
			}
		}
	}
	conn, _, err := m.acquireLock(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := releaseLock(conn); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := m.ensureLedger(ctx, conn); err != nil {
		return nil, err
	}
	rep, err := m.verify(ctx, conn, true)
	if err != nil {
		return nil, err
	}
	outOfOrder := map[string][]int64{}
	var todo []Applied
	for _, p := range rep.Problems {
		s := m.set(p.Set)
		switch p.Kind {
		case KindOutOfOrder:
			outOfOrder[p.Set] = append(outOfOrder[p.Set], p.Version)
			if !slices.Contains(named[p.Set], p.Version) {
				continue
			}
			todo = append(todo, s.baselineOf(p.Version))
		case KindUnrecorded:
			for _, v := range p.Versions {
				todo = append(todo, s.baselineOf(v))
			}
		}
	}
	for set, vs := range named {
		for _, v := range vs {
			if slices.Contains(outOfOrder[set], v) || slices.ContainsFunc(todo, func(a Applied) bool { return a.Set == set && a.Version == v }) {
				continue
			}
			return nil, fmt.Errorf("migcheck: baseline: set %q version %d is not out-of-order (a version at or below the set's version, below a recorded one, with no ledger entry): it is recorded already, not applied, or dirty; nothing was recorded. Name only the versions Verify reports as out-of-order", set, v)
		}
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, a := range todo {
			if err := m.record(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return todo, nil
}

func (s *loadedSet) baselineOf(v int64) Applied {
	mig := s.byVersion[v]
	return Applied{Set: s.Name, Version: v, File: mig.File, SHA256: mig.SHA256, baseline: true}
}
