package migcheck

import (
	"context"
	"fmt"
)

// ForceOpts are the options of [Migrator.Force]; nil means defaults.
type ForceOpts struct {
	// AllowMissing lets Force record a version that has no file in the set.
	// Defaults to false: a mistyped version would make Apply skip every
	// migration below it without a word.
	AllowMissing bool
}

// Force sets the version of a set and clears its dirty flag without running
// anything, as golang-migrate's force does; -1 means no version. Use it after
// a failed migration was undone or completed by hand. It refuses a version
// the set has no file for unless opts.AllowMissing. It holds the lock.
//
// In the same transaction it records the version in the ledger, as applied
// by hand (its [LedgerEntry].Baseline is true), unless the version is
// recorded already or has no file: a version completed by hand is applied,
// and without its row Verify would call it out-of-order once the next
// migration is recorded. When a version below it has no ledger row (applied
// by plain golang-migrate), it is left unrecorded too, for
// [Migrator.Baseline] to record with them.
func (m *Migrator) Force(ctx context.Context, set string, version int64, opts *ForceOpts) (err error) {
	s := m.set(set)
	if s == nil {
		return fmt.Errorf("%w: no set named %q", ErrBadSet, set)
	}
	if version < -1 {
		return fmt.Errorf("migcheck: force: version %d is below -1 (no version)", version)
	}
	if version >= 0 && s.byVersion[version] == nil && (opts == nil || !opts.AllowMissing) {
		return fmt.Errorf("%w: set %q has no migration %d (its versions: %s); give a version it has, -1 for none, or allow a missing one (ForceOpts.AllowMissing) if you are sure",
			ErrNoSuchVersion, s.Name, version, s.versions())
	}
	conn, _, err := m.acquireLock(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := releaseLock(conn); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := m.ensureLedger(ctx, conn); err != nil {
		return err
	}
	e, err := m.newEngine(ctx, conn, s)
	if err != nil {
		return fmt.Errorf("migcheck: set %q: setting up golang-migrate: %w", s.Name, err)
	}
	defer e.close()
	if err := e.m.Force(int(version)); err != nil {
		return fmt.Errorf("migcheck: set %q: force %d: %w", s.Name, version, err)
	}
	m.cfg.Logger.Info("migcheck: forced version", "set", s.Name, "version", version)
	return nil
}

func (s *loadedSet) versions() string {
	vs := make([]int64, len(s.migs))
	for i, m := range s.migs {
		vs[i] = m.Version
	}
	if len(vs) == 0 {
		return "none"
	}
	return versionList(vs)
}
