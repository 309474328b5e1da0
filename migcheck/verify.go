package migcheck

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/pgsession"
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

// Verify compares the database with the binary's sets and returns every
// problem it finds. It only reads (a role with SELECT on the version and
// ledger tables is enough), takes no lock, and returns within ctx even while
// a migration runs. An error means Verify could not run; problems are in the
// report (see [Report.Err]).
func (m *Migrator) Verify(ctx context.Context) (*Report, error) {
	rep, err := m.verify(ctx, m.db, false)
	return rep, pgsession.Explain(err, m.db.Config().ConnConfig.DefaultQueryExecMode)
}

type ledgerRow struct {
	file, sha string
}

// step is a statement of a non-transactional file known to have completed.
type step struct {
	sha       string
	statement int
	of        int
	sql       string
}

func (m *Migrator) verify(ctx context.Context, q querier, holdingLock bool) (*Report, error) {
	names := make([]string, 0, len(m.sets)+1)
	for _, s := range m.sets {
		names = append(names, quoteIdent(s.table()))
	}
	names = append(names, quoteIdent(m.cfg.LedgerTable))
	var exists []bool
	// A role that may read the version tables but not the steps (granted
	// before they existed) still verifies; a dirty set is then described
	// without them.
	var stepsExist bool
	var dbName, schema string
	err := q.QueryRow(ctx, `SELECT current_database(), current_schema(),
		array(SELECT to_regclass(t) IS NOT NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i),
		CASE WHEN to_regclass($2::text) IS NULL THEN false ELSE has_table_privilege($2::text, 'SELECT') END`, names, quoteIdent(m.stepsTable())).Scan(&dbName, &schema, &exists, &stepsExist)
	if err != nil {
		return nil, fmt.Errorf("migcheck: verify: looking up version tables: %w", err)
	}
	ledgerExists := exists[len(m.sets)]

	b := &pgx.Batch{}
	rep := &Report{Sets: make([]SetStatus, len(m.sets))}
	for i, s := range m.sets {
		st := &rep.Sets[i]
		*st = SetStatus{Set: s.Name, Table: s.table(), TableExists: exists[i], Applied: -1, Expected: s.newest()}
		if exists[i] {
			b.Queue(`SELECT version, dirty FROM ` + quoteIdent(s.table()) + ` LIMIT 1`).QueryRow(func(r pgx.Row) error {
				err := r.Scan(&st.Applied, &st.Dirty)
				if err == pgx.ErrNoRows {
					return nil
				}
				return err
			})
		}
	}
	ledger := map[string]map[int64]ledgerRow{}
	if ledgerExists {
		setNames := make([]string, len(m.sets))
		for i, s := range m.sets {
			setNames[i] = s.Name
		}
		b.Queue(`SELECT DISTINCT ON (set_name, version) set_name, version, file, sha256 FROM `+quoteIdent(m.cfg.LedgerTable)+
			` WHERE set_name = ANY($1) ORDER BY set_name, version, id DESC`, setNames).Query(func(rows pgx.Rows) error {
			var set string
			var v int64
			var lr ledgerRow
			_, err := pgx.ForEachRow(rows, []any{&set, &v, &lr.file, &lr.sha}, func() error {
				if ledger[set] == nil {
					ledger[set] = map[int64]ledgerRow{}
				}
				ledger[set][v] = lr
				return nil
			})
			return err
		})
	}
	steps := map[string]map[int64][]step{}
	if stepsExist {
		setNames := make([]string, len(m.sets))
		for i, s := range m.sets {
			setNames[i] = s.Name
		}
		b.Queue(`SELECT set_name, version, sha256, statement, statements, sql FROM `+quoteIdent(m.stepsTable())+
			` WHERE set_name = ANY($1::text[]) ORDER BY set_name, version, statement`, setNames).Query(func(rows pgx.Rows) error {
			var set string
			var v int64
			var st step
			_, err := pgx.ForEachRow(rows, []any{&set, &v, &st.sha, &st.statement, &st.of, &st.sql}, func() error {
				if steps[set] == nil {
					steps[set] = map[int64][]step{}
				}
				steps[set][v] = append(steps[set][v], st)
				return nil
			})
			return err
		})
	}
	type index struct {
		name, table, schema, relname string
		builder                      int32 // pid of the build in progress, 0 for none
	}
	var invalid []index
	// An index that CREATE INDEX CONCURRENTLY is building right now is not
	// valid yet either; pg_stat_progress_create_index names its builder.
	// (A role that may not read other roles' progress sees no builder, and
	// the index is reported invalid.)
	b.Queue(`SELECT format('%I.%I', n.nspname, c.relname), format('%I.%I', n.nspname, t.relname), n.nspname, c.relname,
		coalesce((SELECT min(p.pid) FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid AND p.datname = current_database()), 0)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_class t ON t.oid = i.indrelid
		WHERE NOT i.indisvalid AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg_toast%'
		ORDER BY 1`).Query(func(rows pgx.Rows) error {
		var ix index
		_, err := pgx.ForEachRow(rows, []any{&ix.name, &ix.table, &ix.schema, &ix.relname, &ix.builder}, func() error {
			invalid = append(invalid, ix)
			return nil
		})
		return err
	})
	b.Queue(runnerSQL, m.runnerLocks(dbName, schema)).QueryRow(func(r pgx.Row) (err error) {
		rep.Runner, err = scanRunner(r)
		return err
	})
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("migcheck: verify: reading migration state: %w", err)
	}
	if holdingLock {
		rep.Runner = nil // the lock is ours: nothing else is running
	}
	rep.Migrating = rep.Runner != nil

	for i := range m.sets {
		m.checkSet(&m.sets[i], &rep.Sets[i], ledger[m.sets[i].Name], steps[m.sets[i].Name], rep)
	}
	declared := map[[2]string]bool{}
	if len(m.indexes) > 0 {
		states, err := declaredStates(ctx, q, m.indexes)
		if err != nil {
			return nil, fmt.Errorf("migcheck: verify: %w", err)
		}
		rep.Indexes = states
		for _, s := range states {
			declared[[2]string{s.schema, s.Name}] = true
			if p, ok := m.indexProblem(s); ok {
				rep.Problems = append(rep.Problems, p)
			}
		}
	}
	if rep.StandbyHolds, err = standby.Holds(ctx, q); err != nil {
		return nil, fmt.Errorf("migcheck: verify: %w", err)
	}
	for _, h := range rep.StandbyHolds {
		if p, ok := standbyProblem(h); ok {
			rep.Problems = append(rep.Problems, p)
		}
	}
	for _, ix := range invalid {
		if declared[[2]string{ix.schema, ix.relname}] {
			continue // reported above, as a declared index
		}
		p := Problem{Kind: KindInvalidIndex, Severity: SeverityError, Index: ix.name,
			Message: fmt.Sprintf("index %s on %s is invalid (a CREATE INDEX CONCURRENTLY or REINDEX failed or was interrupted); queries do not use it but writes still maintain it", ix.name, ix.table),
			Fix:     fmt.Sprintf("DROP INDEX CONCURRENTLY %s; then create it again (CREATE INDEX CONCURRENTLY ...), or REINDEX INDEX CONCURRENTLY %s;", ix.name, ix.name)}
		switch {
		case ix.builder != 0:
			p.Severity = SeverityInfo
			p.Message = fmt.Sprintf("index %s on %s is not valid yet: it is being built by pid %d (CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY); wait for it", ix.name, ix.table, ix.builder)
			p.Fix = fmt.Sprintf("wait for the build (pid %d) to finish", ix.builder)
		case rep.Migrating:
			p.Severity = SeverityInfo
			p.Message = fmt.Sprintf("index %s on %s is not valid yet; a migration is running and may be building it", ix.name, ix.table)
			p.Fix = "wait for the migration to finish"
		}
		rep.Problems = append(rep.Problems, p)
	}
	return rep, nil
}

func (m *Migrator) checkSet(s *loadedSet, st *SetStatus, ledger map[int64]ledgerRow, steps map[int64][]step, rep *Report) {
	add := func(p Problem) {
		p.Set = s.Name
		rep.Problems = append(rep.Problems, p)
	}
	for _, mig := range s.migs {
		if mig.Version > st.Applied {
			st.Pending = append(st.Pending, mig.Version)
		}
	}
	if !st.TableExists {
		add(Problem{Kind: KindNoVersionTable, Severity: SeverityError, Versions: st.Pending,
			Message: fmt.Sprintf("set %q: version table %q does not exist: no migration of this set was ever applied (%d pending)", s.Name, s.table(), len(st.Pending)),
			Fix:     "run the migrations: " + m.cfg.Hint(OpApply, s.Name, 0)})
		return
	}
	newest := s.newest()
	migrating := rep.Runner != nil && (st.Dirty || len(st.Pending) > 0)
	if migrating {
		file := ""
		if mig := s.byVersion[st.Applied]; mig != nil && st.Dirty {
			file = mig.File
		} else if len(st.Pending) > 0 {
			file = s.byVersion[st.Pending[0]].File
		}
		add(Problem{Kind: KindMigrating, Severity: SeverityError, Version: st.Applied, File: file, Versions: st.Pending,
			Message: fmt.Sprintf("set %q: migrations are being applied right now by %s; the set is at version %d", s.Name, rep.Runner, st.Applied),
			Fix:     rep.Runner.hint()})
	} else if st.Dirty {
		add(m.dirtyProblem(s, st.Applied, steps[st.Applied]))
	}
	if st.Applied > newest {
		sev := SeverityInfo
		if m.cfg.AheadIsError {
			sev = SeverityError
		}
		add(Problem{Kind: KindAhead, Severity: sev, Version: st.Applied,
			Message: fmt.Sprintf("set %q: database is at version %d, newer than this binary's newest %d (expected while a rollout replaces this version)", s.Name, st.Applied, newest)})
	}
	if len(st.Pending) > 0 && !st.Dirty && !migrating {
		add(Problem{Kind: KindPending, Severity: SeverityError, Versions: st.Pending, Version: st.Pending[0], File: s.byVersion[st.Pending[0]].File,
			Message: fmt.Sprintf("set %q: %d migration(s) not applied, database at %d, binary expects %d", s.Name, len(st.Pending), st.Applied, newest),
			Fix:     "run the migrations: " + m.cfg.Hint(OpApply, s.Name, 0)})
	}
	if st.Applied >= 0 && st.Applied <= newest && s.byVersion[st.Applied] == nil {
		if _, inLedger := ledger[st.Applied]; !inLedger {
			add(Problem{Kind: KindMissingFile, Severity: SeverityError, Version: st.Applied,
				Message: fmt.Sprintf("set %q: database is at version %d, which this binary has no file for", s.Name, st.Applied),
				Fix:     "restore the migration file that was applied as this version"})
		}
	}
	var ledgerMax int64 = -1
	recorded := make([]int64, 0, len(ledger))
	for v := range ledger {
		recorded = append(recorded, v)
	}
	sort.Slice(recorded, func(i, j int) bool { return recorded[i] < recorded[j] })
	for _, v := range recorded {
		lr := ledger[v]
		ledgerMax = max(ledgerMax, v)
		mig := s.byVersion[v]
		switch {
		case mig != nil && mig.SHA256 != lr.sha:
			add(Problem{Kind: KindChecksumMismatch, Severity: SeverityError, Version: v, File: mig.File, Recorded: lr.sha, Current: mig.SHA256,
				Message: fmt.Sprintf("set %q: migration %d (%s) changed after it was applied: recorded sha256 %s, file now %s", s.Name, v, mig.File, lr.sha, mig.SHA256),
				Fix:     "restore the applied content and put the change in a new migration"})
		case mig == nil && v < newest:
			add(Problem{Kind: KindMissingFile, Severity: SeverityError, Version: v, File: lr.file,
				Message: fmt.Sprintf("set %q: migration %d (%s) was applied but this binary no longer has it", s.Name, v, lr.file),
				Fix:     "restore the file; applied migrations are never deleted or renumbered"})
		}
	}
	var unrecorded []int64
	for _, mig := range s.migs {
		if mig.Version > st.Applied || (st.Dirty && mig.Version == st.Applied) {
			break
		}
		if _, ok := ledger[mig.Version]; ok {
			continue
		}
		if mig.Version < ledgerMax {
			// migcheck records every version it applies or forces, and
			// refuses to apply while a version is unrecorded, so a gap
			// below a recorded version is a file added after later ones
			// ran. Databases migrated before that rule may also have a
			// version applied but never recorded there; the database
			// cannot tell the two apart, so the operator says which.
			add(Problem{Kind: KindOutOfOrder, Severity: SeverityError, Version: mig.Version, File: mig.File,
				Message: fmt.Sprintf("set %q: migration %d (%s) is below the applied version %d and recorded version %d but has no ledger entry: it was added after them and never applied (golang-migrate will not run it), or it was applied without being recorded (by plain golang-migrate, or completed by hand and forced)",
					s.Name, mig.Version, mig.File, st.Applied, ledgerMax),
				Fix: fmt.Sprintf("if it never ran, renumber it above %d; if it was applied, check the file is what ran and record it: %s", newest, m.cfg.Hint(OpRecord, s.Name, mig.Version))})
			continue
		}
		unrecorded = append(unrecorded, mig.Version)
	}
	if len(unrecorded) > 0 {
		add(Problem{Kind: KindUnrecorded, Severity: SeverityWarning, Versions: unrecorded,
			Message: fmt.Sprintf("set %q: %d applied version(s) have no ledger entry (%s), so their content cannot be checked; applied by plain golang-migrate?", s.Name, len(unrecorded), versionList(unrecorded)),
			Fix:     "check the files are what was applied, then record them (migrations are not applied until then): " + m.cfg.Hint(OpBaseline, s.Name, 0)})
	}
}

// dirtyProblem describes a set left dirty at version v: by a file that does
// not run in one transaction, or by plain golang-migrate. The fix it gives,
// followed as written, applies no statement twice: what is known to have
// run is either completed or undone before the set is marked clean.
func (m *Migrator) dirtyProblem(s *loadedSet, v int64, done []step) Problem {
	mig := s.byVersion[v]
	p := Problem{Kind: KindDirty, Severity: SeverityError, Version: v}
	if mig == nil {
		p.Message = fmt.Sprintf("set %q is dirty at version %d, which this binary has no file for: that migration failed part-way and nothing after it ran", s.Name, v)
		p.Fix = fmt.Sprintf("undo or complete version %d by hand, then mark the set clean: %s (or at %d if it is complete)",
			v, m.cfg.Hint(OpForce, s.Name, s.versionBefore(v)), v)
		return p
	}
	p.File = mig.File
	prev := s.versionBefore(v)
	stmts := SplitStatements(string(mig.content))
	known := 0
	for _, d := range done {
		if d.sha != mig.SHA256 || d.statement != known+1 {
			break
		}
		known++
	}
	p.Message = fmt.Sprintf("set %q is dirty at version %d (%s): the migration failed or was stopped part-way and nothing after it ran", s.Name, v, mig.File)
	if len(done) == 0 && transactional(mig.content) {
		// Not from this package: Apply runs such a file in one transaction.
		p.Fix = fmt.Sprintf("check what of %s is in the database; undo it by hand, then %s and %s; or complete it by hand, then %s",
			mig.File, m.cfg.Hint(OpForce, s.Name, prev), m.cfg.Hint(OpApply, s.Name, 0), m.cfg.Hint(OpForce, s.Name, v))
		return p
	}
	if known >= len(stmts) {
		p.Message += fmt.Sprintf("; all %d statement(s) of the file completed, only marking it applied did not", len(stmts))
		p.Fix = fmt.Sprintf("mark it applied: %s", m.cfg.Hint(OpForce, s.Name, v))
		return p
	}
	if known == 0 {
		p.Message += fmt.Sprintf("; none of its %d statement(s) is known to have completed", len(stmts))
	} else {
		p.Message += fmt.Sprintf("; statement(s) 1-%d of %d are known to have run: %s", known, len(stmts), stmtList(stmts[:known], 1))
	}
	next := stmts[known]
	p.Message += fmt.Sprintf("; statement %d (%s) may have run in part or in whole", known+1, shorten(next.SQL))
	if known+1 < len(stmts) {
		p.Message += fmt.Sprintf(", statement(s) %d-%d did not run", known+2, len(stmts))
	}
	p.Fix = fmt.Sprintf("either complete it: check statement %d, run by hand what of statements %d-%d did not run, then %s; "+
		"or undo it: undo statements 1-%d (an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index: DROP INDEX CONCURRENTLY it), then %s and %s",
		known+1, known+1, len(stmts), m.cfg.Hint(OpForce, s.Name, v), known+1, m.cfg.Hint(OpForce, s.Name, prev), m.cfg.Hint(OpApply, s.Name, 0))
	return p
}

func stmtList(stmts []Statement, first int) string {
	parts := make([]string, len(stmts))
	for i, st := range stmts {
		parts[i] = fmt.Sprintf("%d: %s", first+i, shorten(st.SQL))
	}
	return strings.Join(parts, "; ")
}

func shorten(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// runnerLocks are the advisory locks a runner holds: migcheck's, and the one
// plain golang-migrate takes for each set's version table.
func (m *Migrator) runnerLocks(dbName, schema string) []int64 {
	keys := []int64{LockKey}
	for _, s := range m.sets {
		id, err := database.GenerateAdvisoryLockId(dbName, schema, s.table())
		if err != nil {
			continue
		}
		if k, err := strconv.ParseInt(id, 10, 64); err == nil {
			keys = append(keys, k)
		}
	}
	return keys
}

func (s *loadedSet) versionBefore(v int64) int64 {
	prev := int64(-1)
	for _, m := range s.migs {
		if m.Version >= v {
			break
		}
		prev = m.Version
	}
	return prev
}

func versionList(vs []int64) string {
	if len(vs) > 6 {
		return fmt.Sprintf("%d, %d, %d ... %d", vs[0], vs[1], vs[2], vs[len(vs)-1])
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

// indexProblem is the warning for a declared index queries cannot use: the
// service runs without it, slowly, so it never stops a start.
func (m *Migrator) indexProblem(s IndexStatus) (Problem, bool) {
	p := Problem{Severity: SeverityWarning, Index: s.Name, Message: s.Message, Fix: "build it: " + m.cfg.Hint(OpIndexes, "", 0)}
	switch s.State {
	case IndexMissing:
		p.Kind = KindIndexMissing
	case IndexInvalid:
		p.Kind = KindInvalidIndex
		p.Fix = "drop and build it again: " + m.cfg.Hint(OpIndexes, "", 0)
	case IndexBuilding:
		p.Kind, p.Severity, p.Fix = KindIndexMissing, SeverityInfo, "wait for the build to finish"
	case IndexNoTable:
		p.Kind = KindIndexMissing
		p.Fix = "fix the table named in " + s.File + ", or apply the migration that creates it"
	case IndexBroken:
		p.Kind = KindIndexMissing
		p.Fix = "rename the other index, or the declared one"
	default:
		return Problem{}, false
	}
	return p, true
}

// standbyProblem is the warning for a standby held for a deploy and not
// released: a deploy that went well should release it, so that it catches
// up and can hold the next one.
func standbyProblem(h standby.Hold) (Problem, bool) {
	held := h.Held.Round(time.Second)
	switch h.State {
	case "held":
		return Problem{Kind: KindStandbyHeld, Severity: SeverityWarning,
			Message: fmt.Sprintf("standby %q is held at %s since %s (%s ago) by %s; it misses the %d bytes of WAL written since", h.Standby, h.LSN, h.At.UTC().Format(time.RFC3339), held, h.Deploy, h.Behind),
			Fix:     "after a good deploy: seatbelt standby release --standby-url URL; if the deploy destroyed data: seatbelt standby promote --standby-url URL"}, true
	case "holding":
		return Problem{Kind: KindStandbyHeld, Severity: SeverityWarning,
			Message: fmt.Sprintf("a hold of standby %q began %s ago (by %s) and did not finish: it was killed or timed out", h.Standby, held, h.Deploy),
			Fix:     "see where the standby stands: seatbelt standby status --standby-url URL; then hold it again, or release it"}, true
	}
	return Problem{}, false
}
