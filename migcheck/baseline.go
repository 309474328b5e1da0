package migcheck

import "context"

// Baseline records in the ledger the current files of every version that is
// applied (at or below the set's version) but has no ledger entry: versions
// applied by plain golang-migrate before migcheck was used. It holds the
// lock and returns what it recorded.
func (m *Migrator) Baseline(ctx context.Context) (recorded []Applied, err error) {
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
	for _, p := range rep.Problems {
		if p.Kind != KindUnrecorded {
			continue
		}
		s := m.set(p.Set)
		for _, v := range p.Versions {
			mig := s.byVersion[v]
			a := Applied{Set: s.Name, Version: v, File: mig.File, SHA256: mig.SHA256, baseline: true}
			if err := m.record(ctx, conn, a); err != nil {
				return recorded, err
			}
			recorded = append(recorded, a)
		}
	}
	return recorded, nil
}
