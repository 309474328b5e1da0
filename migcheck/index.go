package migcheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Indexer builds the indexes of an [IndexSet] by hand: one at a time,
// CONCURRENTLY, outside any transaction, with lock_timeout on the drops
// and renames around them, progress, and a ledger of every build. It is safe for concurrent use;
// builds in several processes take turns on [IndexLockKey].
type Indexer struct {
	db    *pgxpool.Pool
	cfg   Config
	idx   []Index
	clock clock
}

// IndexLockKey is the session advisory lock an [Indexer] holds while it
// builds, so that two builders take turns. It spells "SbIndexs".
const IndexLockKey int64 = 0x5362496e64657873

// IndexAppName starts the application_name of a builder's session.
const IndexAppName = "seatbelt-index"

// Suffixes of the names an Indexer builds and drops beside a declared index
// when it replaces one (--replace).
const (
	replaceSuffix = "_sbnew"
	retireSuffix  = "_sbold"
)

// NewIndexer reads and checks set's files and returns an Indexer for db.
// It uses cfg's LockTimeout, LockRetries, RetryBackoff, LockWait, LockPoll,
// IndexLedgerTable, OldTransaction, ProgressInterval, Host, BuildVersion and
// Logger.
func NewIndexer(db *pgxpool.Pool, cfg *Config, set IndexSet) (*Indexer, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: db is nil; pass a *pgxpool.Pool", ErrInvalidConfig)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	idx, err := set.Indexes()
	if err != nil {
		return nil, err
	}
	return &Indexer{db: db, cfg: c, idx: idx, clock: realClock{}}, nil
}

// OldTransaction is the age past which Apply reports a transaction a build
// will wait for: Config.OldTransaction, or its default.
func (x *Indexer) OldTransaction() time.Duration { return x.cfg.OldTransaction }

// Indexes returns the declared indexes, ordered by name.
func (x *Indexer) Indexes() []Index { return append([]Index(nil), x.idx...) }

// IndexState is what the database holds for a declared index.
type IndexState string

const (
	IndexValid     IndexState = "valid"     // present, valid, and as its file declares
	IndexMissing   IndexState = "missing"   // no index of that name on the table's schema
	IndexInvalid   IndexState = "invalid"   // left INVALID by a failed or killed build
	IndexBuilding  IndexState = "building"  // being built right now (see Progress)
	IndexDifferent IndexState = "different" // valid, but not the definition its file declares
	IndexNoTable   IndexState = "no-table"  // the table it is declared on does not exist
	IndexBroken    IndexState = "broken"    // its statement fails on this database (see Message)
)

// IndexStatus is one declared index as the database holds it.
type IndexStatus struct {
	Name  string     `json:"name"`
	File  string     `json:"file"`
	Table string     `json:"table"` // schema-qualified, when the table exists
	State IndexState `json:"state"`
	// Definition is pg_get_indexdef of the index in the database; Declared
	// is the same for the file's statement. Both are filled by
	// [Indexer.Status] only.
	Definition string `json:"definition,omitempty"`
	Declared   string `json:"declared,omitempty"`
	// Progress is the running build, when State is building.
	Progress *IndexProgress `json:"progress,omitempty"`
	// Message says what is wrong, for every state but valid.
	Message string `json:"message,omitempty"`

	schema string
	oid    uint32
}

// Usable says queries can use the index: it is valid, as declared or not.
func (s IndexStatus) Usable() bool { return s.State == IndexValid || s.State == IndexDifferent }

// UndeclaredIndex is an index in the database that no file declares and
// that backs no constraint.
type UndeclaredIndex struct {
	Name       string `json:"name"`
	Table      string `json:"table"`
	Valid      bool   `json:"valid"`
	Definition string `json:"definition"`
	// Builder is the pid of the CREATE INDEX CONCURRENTLY (or REINDEX
	// CONCURRENTLY) building it right now, 0 for none: such an index is
	// not valid until the build ends, which is no fault.
	Builder int `json:"builder,omitempty"`
}

// IndexReport is the result of [Indexer.Status].
type IndexReport struct {
	Indexes []IndexStatus `json:"indexes"`
	// Undeclared lists, apart, the other indexes on non-system schemas,
	// but for those of the ledger tables.
	Undeclared []UndeclaredIndex `json:"undeclared,omitempty"`
}

// IndexProgress is a build in progress, from pg_stat_progress_create_index.
type IndexProgress struct {
	Index string `json:"index"`
	PID   int    `json:"pid"`
	Phase string `json:"phase"`
	// Blocks and tuples of the current phase, done and in all (0 when the
	// phase does not count them).
	BlocksDone   int64 `json:"blocks_done"`
	BlocksTotal  int64 `json:"blocks_total"`
	TuplesDone   int64 `json:"tuples_done"`
	TuplesTotal  int64 `json:"tuples_total"`
	LockersDone  int64 `json:"lockers_done"`
	LockersTotal int64 `json:"lockers_total"`
	// Waiting is the pid of the transaction the build waits for, 0 for
	// none.
	WaitingFor int `json:"waiting_for,omitempty"`
	// Elapsed is how long the build has run.
	Elapsed time.Duration `json:"elapsed"`
	// ETA estimates the rest of the current phase from its pace so far; 0
	// when unknown. Only [Indexer.Apply]'s progress reports fill it.
	ETA time.Duration `json:"eta,omitempty"`
}

func (p IndexProgress) String() string {
	s := fmt.Sprintf("%s: %s", p.Index, p.Phase)
	if p.BlocksTotal > 0 {
		s += fmt.Sprintf(", blocks %d/%d (%.0f%%)", p.BlocksDone, p.BlocksTotal, 100*float64(p.BlocksDone)/float64(p.BlocksTotal))
	}
	if p.TuplesTotal > 0 || p.TuplesDone > 0 {
		s += fmt.Sprintf(", tuples %d/%d", p.TuplesDone, p.TuplesTotal)
	}
	if p.LockersTotal > 0 {
		s += fmt.Sprintf(", waited for %d of %d transactions", p.LockersDone, p.LockersTotal)
	}
	if p.WaitingFor != 0 {
		s += fmt.Sprintf(", waiting for pid %d", p.WaitingFor)
	}
	s += fmt.Sprintf(", %v elapsed", p.Elapsed.Round(time.Second))
	if p.ETA > 0 {
		s += fmt.Sprintf(", phase ETA %v", p.ETA.Round(time.Second))
	}
	return s
}

// progressSQL reads the builds in progress of the current database, with
// how long each has run. A build by a role the caller may not see in detail
// (without pg_read_all_stats) shows NULL for all but its pid: it cannot be
// tied to an index, so it is left out.
const progressSQL = `SELECT p.pid, p.index_relid::bigint, coalesce(p.phase, ''), coalesce(p.blocks_done, 0), coalesce(p.blocks_total, 0),
	coalesce(p.tuples_done, 0), coalesce(p.tuples_total, 0), coalesce(p.lockers_done, 0), coalesce(p.lockers_total, 0),
	coalesce(p.current_locker_pid, 0)::int, extract(epoch FROM now() - coalesce(a.query_start, now()))::float8
	FROM pg_stat_progress_create_index p LEFT JOIN pg_stat_activity a ON a.pid = p.pid
	WHERE p.datname = current_database() AND p.index_relid IS NOT NULL`

func scanProgress(r pgx.Row, relid *int64) (IndexProgress, error) {
	var p IndexProgress
	var el float64
	err := r.Scan(&p.PID, relid, &p.Phase, &p.BlocksDone, &p.BlocksTotal, &p.TuplesDone, &p.TuplesTotal, &p.LockersDone, &p.LockersTotal, &p.WaitingFor, &el)
	p.Elapsed = time.Duration(el * float64(time.Second))
	return p, err
}

// declaredSQL reads, for each declared (name, table), the table and the
// index of that name in the table's schema.
const declaredSQL = `SELECT d.name, t.oid IS NOT NULL, coalesce(n.nspname, ''), CASE WHEN t.oid IS NULL THEN '' ELSE format('%I.%I', n.nspname, t.relname) END,
	coalesce(c.oid, 0)::bigint, coalesce(i.indisvalid, false), coalesce(pg_get_indexdef(c.oid), ''), coalesce(ct.relname = t.relname AND c.relnamespace = t.relnamespace, true),
	coalesce(t.relkind = 'p', false)
	FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS d(name, tbl, o)
	LEFT JOIN pg_class t ON t.oid = to_regclass(d.tbl)
	LEFT JOIN pg_namespace n ON n.oid = t.relnamespace
	LEFT JOIN pg_class c ON c.relname = d.name AND c.relnamespace = t.relnamespace AND c.relkind IN ('i', 'I')
	LEFT JOIN pg_index i ON i.indexrelid = c.oid
	LEFT JOIN pg_class ct ON ct.oid = i.indrelid
	ORDER BY d.o`

// declaredStates reads what the database holds for idx: present, valid,
// being built. It only reads, and does not compare definitions.
func declaredStates(ctx context.Context, q querier, idx []Index) ([]IndexStatus, error) {
	names, tables := make([]string, len(idx)), make([]string, len(idx))
	for i, ix := range idx {
		names[i], tables[i] = ix.Name, ix.Table
	}
	out := make([]IndexStatus, len(idx))
	i := 0
	var name string
	var tableExists, valid, sameTable, partitioned bool
	var oid int64
	rows, err := q.Query(ctx, declaredSQL, names, tables)
	if err != nil {
		return nil, fmt.Errorf("migcheck: reading the declared indexes: %w", err)
	}
	for rows.Next() {
		s := &out[i]
		if err := rows.Scan(&name, &tableExists, &s.schema, &s.Table, &oid, &valid, &s.Definition, &sameTable, &partitioned); err != nil {
			rows.Close()
			return nil, fmt.Errorf("migcheck: reading the declared indexes: %w", err)
		}
		ix := idx[i]
		s.Name, s.File, s.oid = ix.Name, ix.File, uint32(oid)
		switch {
		case !tableExists:
			s.State, s.Table = IndexNoTable, ix.Table
			s.Message = fmt.Sprintf("index %s is declared on table %s, which does not exist; run the migrations first, or fix the table in %s", ix.Name, ix.Table, ix.File)
		case partitioned && (oid == 0 || !valid):
			// CREATE INDEX CONCURRENTLY refuses a partitioned table; say
			// what works instead rather than fail at the build.
			s.State = IndexBroken
			s.Message = fmt.Sprintf("table %s is partitioned, and PostgreSQL cannot build an index on a partitioned table CONCURRENTLY; "+
				"declare the index on each partition instead (one file each, built concurrently), then, if the parent needs it, "+
				"a migration can CREATE INDEX ... ON ONLY %s and ALTER INDEX ... ATTACH PARTITION each partition's index, which takes no time", s.Table, s.Table)
		case oid == 0:
			s.State = IndexMissing
			s.Message = fmt.Sprintf("index %s on %s is missing; queries that need it scan the table", ix.Name, s.Table)
		case !sameTable:
			s.State = IndexBroken
			s.Message = fmt.Sprintf("an index named %s exists in schema %s on another table; rename one of them", ix.Name, s.schema)
		case !valid:
			s.State = IndexInvalid
			s.Message = fmt.Sprintf("index %s on %s is INVALID (a build failed or was killed); queries do not use it, writes still maintain it", ix.Name, s.Table)
		default:
			s.State = IndexValid
		}
		i++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migcheck: reading the declared indexes: %w", err)
	}
	prog, err := progressByIndex(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if p, ok := prog[out[i].oid]; ok && out[i].oid != 0 && out[i].State == IndexInvalid {
			p.Index = out[i].Name
			out[i].State, out[i].Progress = IndexBuilding, &p
			out[i].Message = fmt.Sprintf("index %s on %s is being built by pid %d: %s", out[i].Name, out[i].Table, p.PID, p)
		}
	}
	return out, nil
}

func progressByIndex(ctx context.Context, q querier) (map[uint32]IndexProgress, error) {
	rows, err := q.Query(ctx, progressSQL)
	if err != nil {
		return nil, fmt.Errorf("migcheck: reading pg_stat_progress_create_index: %w", err)
	}
	defer rows.Close()
	out := map[uint32]IndexProgress{}
	for rows.Next() {
		var relid int64
		p, err := scanProgress(rows, &relid)
		if err != nil {
			return nil, fmt.Errorf("migcheck: reading pg_stat_progress_create_index: %w", err)
		}
		out[uint32(relid)] = p
	}
	return out, rows.Err()
}

// Status returns what the database holds for each declared index,
// comparing the definition of each valid one with its file's, and the
// indexes no file declares. It changes nothing: definitions are compared
// by building the declared index on an empty copy of the table in a
// transaction that is rolled back, so PostgreSQL writes both the same way.
func (x *Indexer) Status(ctx context.Context) (*IndexReport, error) {
	return x.status(ctx, x.db, true)
}

// status reads the declared indexes' states, and with undeclared the other
// indexes too (Apply has no use for them).
func (x *Indexer) status(ctx context.Context, q querier, undeclared bool) (*IndexReport, error) {
	states, err := declaredStates(ctx, q, x.idx)
	if err != nil {
		return nil, err
	}
	rep := &IndexReport{Indexes: states}
	for i := range rep.Indexes {
		s := &rep.Indexes[i]
		if s.State == IndexNoTable || s.State == IndexBroken {
			continue
		}
		decl, err := declaredDefinition(ctx, q, x.idx[i], s.Table)
		if err != nil {
			if pe := statementIsWrong(err); pe != nil {
				s.State = IndexBroken
				s.Message = fmt.Sprintf("the statement of %s fails on this database: %s; fix the file", x.idx[i].File, pe.Message)
				continue
			}
			return nil, fmt.Errorf("migcheck: comparing index %s with %s on this database: %w", s.Name, x.idx[i].File, err)
		}
		s.Declared = decl
		if s.State == IndexValid && indexBody(s.Definition) != indexBody(decl) {
			s.State = IndexDifferent
			s.Message = fmt.Sprintf("index %s differs from %s: the database has %q, the file declares %q; rebuild it with --replace (builds the new one beside it, then swaps)",
				s.Name, s.File, indexBody(s.Definition), indexBody(decl))
		}
	}
	if !undeclared {
		return rep, nil
	}
	declared := map[string]bool{}
	for _, ix := range x.idx {
		declared[ix.Name] = true
		declared[tempName(ix.Name, replaceSuffix)] = true
		declared[tempName(ix.Name, retireSuffix)] = true
	}
	rows, err := q.Query(ctx, `SELECT c.relname, format('%I.%I', n.nspname, t.relname), i.indisvalid, pg_get_indexdef(c.oid),
		coalesce((SELECT min(p.pid) FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid AND p.datname = current_database()), 0)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
		AND t.oid NOT IN (coalesce(to_regclass($1::text)::oid, 0), coalesce(to_regclass($2::text)::oid, 0)) -- the ledgers' own
		ORDER BY 2, 1`, quoteIdent(x.cfg.IndexLedgerTable), quoteIdent(x.cfg.LedgerTable))
	if err != nil {
		return nil, fmt.Errorf("migcheck: listing indexes: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UndeclaredIndex, error) {
		var u UndeclaredIndex
		err := r.Scan(&u.Name, &u.Table, &u.Valid, &u.Definition, &u.Builder)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("migcheck: listing indexes: %w", err)
	}
	for _, u := range all {
		if !declared[u.Name] {
			rep.Undeclared = append(rep.Undeclared, u)
		}
	}
	return rep, nil
}

// statementIsWrong returns the error of the file's statement when err is
// one (an unknown column, function or operator class: SQLSTATE class 42),
// and nil when err comes from the moment or the role: a lock timeout, a
// cancel, a read-only database, a missing privilege (42501) say nothing
// about the file.
func statementIsWrong(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "42") && pe.Code != "42501" {
		return pe
	}
	return nil
}

// declaredDefinition returns pg_get_indexdef of ix built on an empty copy
// of table, in a transaction that is rolled back.
func declaredDefinition(ctx context.Context, q querier, ix Index, table string) (string, error) {
	var def string
	err := pgx.BeginFunc(ctx, q.(interface {
		Begin(context.Context) (pgx.Tx, error)
	}), func(tx pgx.Tx) error {
		// The copy takes an ACCESS SHARE lock on the table: do not queue
		// behind a migration's ACCESS EXCLUSIVE for long.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE seatbelt_index_probe (LIKE "+table+") ON COMMIT DROP"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createSQL(ix, "seatbelt_index_probe_i", "pg_temp.seatbelt_index_probe", false)); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT pg_get_indexdef('pg_temp.seatbelt_index_probe_i'::regclass)").Scan(&def); err != nil {
			return err
		}
		return errProbeDone // roll back: the probe leaves nothing behind
	})
	if err == errProbeDone {
		err = nil
	}
	return def, err
}

var errProbeDone = errors.New("probe done")

// createSQL is ix's statement for index name on table.
func createSQL(ix Index, name, table string, concurrently bool) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.Unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX ")
	if concurrently {
		b.WriteString("CONCURRENTLY ")
	}
	b.WriteString(pgx.Identifier{name}.Sanitize() + " ON " + table + " " + ix.rest)
	return b.String()
}

// indexBody is the part of pg_get_indexdef after the table: method,
// columns, INCLUDE, WITH and WHERE, with UNIQUE in front.
func indexBody(def string) string {
	unique := strings.HasPrefix(def, "CREATE UNIQUE INDEX ")
	if i := strings.Index(def, " USING "); i >= 0 {
		def = def[i+1:]
	}
	if unique {
		return "UNIQUE " + def
	}
	return def
}

// tempName is name with suffix, both within PostgreSQL's identifier limit.
func tempName(name, suffix string) string {
	if len(name)+len(suffix) > maxIdent {
		name = name[:maxIdent-len(suffix)]
	}
	return name + suffix
}
