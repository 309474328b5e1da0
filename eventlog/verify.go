package eventlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// SchemaProblem is one way the database fails to enforce what the log
// promises.
type SchemaProblem struct {
	// Object is what is wrong, e.g. "trigger eventlog_records_check_insert".
	Object string
	// Message says what is wrong and what it allows; Fix says what to do.
	Message string
	Fix     string
}

func (p SchemaProblem) String() string { return p.Message + " (fix: " + p.Fix + ")" }

// SchemaError is returned by [Store.Check] when [Store.Verify] found
// problems; its message lists all of them, and it matches [ErrSchema].
type SchemaError struct {
	Problems []SchemaProblem
}

func (e *SchemaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "eventlog: %d schema problem(s): the database does not enforce the log's rules:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrSchema) true.
func (e *SchemaError) Is(target error) bool { return target == ErrSchema }

// A guard is a trigger that keeps eventlog_records append-only and its
// versions and times honest.
type guard struct {
	trigger  string
	tgtype   int    // pg_trigger.tgtype: level, timing and events
	newTable string // the transition table's name, or ""
	function string
	keeps    string // what breaks without it, for messages
}

// pg_trigger.tgtype bits.
const (
	tgRow      = 1 << 0
	tgBefore   = 1 << 1
	tgInsert   = 1 << 2
	tgDelete   = 1 << 3
	tgUpdate   = 1 << 4
	tgTruncate = 1 << 5
)

var guards = []guard{
	{"eventlog_records_no_update_delete", tgRow | tgBefore | tgUpdate | tgDelete, "", "eventlog_reject_change",
		"records can be updated and deleted: history can be rewritten"},
	{"eventlog_records_no_truncate", tgBefore | tgTruncate, "", "eventlog_reject_change",
		"the log can be truncated"},
	{"eventlog_records_check_insert", tgInsert, "added", "eventlog_check_insert",
		"an INSERT can skip versions and choose its own recorded_at and xid, which as-of reads, WriterChanges and consumers trust"},
}

// Verify checks that the database enforces the log's rules as [Migrations]
// set them up: the triggers that reject UPDATE, DELETE and TRUNCATE and
// that check each INSERT's versions, times and xids are there, enabled and
// unaltered, their functions are the migrations' own, and the unique
// (stream, version) constraint exists. A table owner can drop, disable or
// replace any of these without an error anywhere, so run it at startup
// (see [Store.Check]). It returns every problem found, each with what to
// do; an error means it could not look. It only reads the catalog and
// eventlog's migration version table.
//
// Not visible to it: a superuser session with session_replication_role =
// replica skips the triggers.
func (s *Store) Verify(ctx context.Context) ([]SchemaProblem, error) {
	defs, err := migrationDefs()
	if err != nil {
		return nil, err
	}
	var table, unique bool
	err = s.pool.QueryRow(ctx, `SELECT to_regclass('eventlog_records') IS NOT NULL,
		EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass('eventlog_records')
			AND conname = 'eventlog_records_stream_version' AND contype = 'u')`).Scan(&table, &unique)
	if err != nil {
		return nil, fmt.Errorf("eventlog: verify: %w", err)
	}
	if !table {
		return []SchemaProblem{{Object: "table eventlog_records",
			Message: "eventlog_records does not exist in this database's search_path",
			Fix:     "apply eventlog.Migrations (migcheck.Apply) before starting the service"}}, nil
	}
	var out []SchemaProblem
	if !unique {
		out = append(out, SchemaProblem{Object: "constraint eventlog_records_stream_version",
			Message: "the unique (stream_type, stream_id, version) constraint eventlog_records_stream_version is missing: two writers can store the same version of a stream",
			Fix: "as the table's owner, run: CREATE UNIQUE INDEX CONCURRENTLY eventlog_records_stream_version ON eventlog_records (stream_type, stream_id, version); " +
				"ALTER TABLE eventlog_records ADD CONSTRAINT eventlog_records_stream_version UNIQUE USING INDEX eventlog_records_stream_version " +
				"(if the index cannot be built, versions were stored twice meanwhile: SELECT stream_type, stream_id, version FROM eventlog_records GROUP BY 1, 2, 3 HAVING count(*) > 1 lists them)"})
	}
	triggers, err := s.readTriggers(ctx)
	if err != nil {
		return nil, err
	}
	functions, err := s.readFunctions(ctx)
	if err != nil {
		return nil, err
	}
	// Guards of migrations not applied yet are one problem, which applying
	// them fixes (migcheck reports them too).
	applied, known, err := s.appliedVersion(ctx)
	if err != nil {
		return nil, err
	}
	var pending []string
	checked := map[string]bool{}
	for _, g := range guards {
		if known && defs.triggers[g.trigger].version > applied {
			pending = append(pending, "trigger "+g.trigger)
			continue
		}
		if !checked[g.function] {
			checked[g.function] = true
			if p := checkFunction(g.function, functions[g.function], defs.functions[g.function]); p != nil {
				out = append(out, *p)
			}
		}
		if p := checkTrigger(g, triggers[g.trigger], defs.triggers[g.trigger].text); p != nil {
			out = append(out, *p)
		}
	}
	if len(pending) > 0 {
		out = append(out, SchemaProblem{Object: "eventlog migrations",
			Message: fmt.Sprintf("eventlog's migrations are applied up to version %d; later ones in this build create %s, whose rules are not enforced until then",
				applied, strings.Join(pending, ", ")),
			Fix: "apply eventlog.Migrations (migcheck.Apply) before starting the service"})
	}
	return out, nil
}

// triggerState is a trigger on eventlog_records as the catalog has it.
type triggerState struct {
	found           bool
	enabled         string // pg_trigger.tgenabled
	tgtype          int
	newTable        string
	narrowed        bool // a WHEN condition, a column list, arguments or an old table
	function        string
	functionInTable bool // the function is in the table's schema
}

func (s *Store) readTriggers(ctx context.Context) (map[string]triggerState, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.tgname::text, t.tgenabled::text, t.tgtype::int, coalesce(t.tgnewtable::text, ''),
		t.tgqual IS NOT NULL OR t.tgattr::text <> '' OR t.tgnargs > 0 OR t.tgoldtable IS NOT NULL, p.proname::text, p.pronamespace = c.relnamespace
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE t.tgrelid = to_regclass('eventlog_records') AND NOT t.tgisinternal`)
	if err != nil {
		return nil, fmt.Errorf("eventlog: verify: reading triggers: %w", err)
	}
	out := map[string]triggerState{}
	var name string
	tg := triggerState{found: true}
	_, err = pgx.ForEachRow(rows, []any{&name, &tg.enabled, &tg.tgtype, &tg.newTable, &tg.narrowed, &tg.function, &tg.functionInTable}, func() error {
		out[name] = tg
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eventlog: verify: reading triggers: %w", err)
	}
	return out, nil
}

// functionState is a guard's function as the catalog has it.
type functionState struct {
	found         bool
	src, lang     string
	definer, sets bool // SECURITY DEFINER; SET options
}

func (s *Store) readFunctions(ctx context.Context) (map[string]functionState, error) {
	var names []string
	for _, g := range guards {
		names = append(names, g.function)
	}
	rows, err := s.pool.Query(ctx, `SELECT p.proname::text, p.prosrc, l.lanname::text, p.prosecdef, p.proconfig IS NOT NULL
		FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
		WHERE p.pronamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('eventlog_records'))
		AND p.proname = ANY($1::text[]) AND p.pronargs = 0`, names)
	if err != nil {
		return nil, fmt.Errorf("eventlog: verify: reading trigger functions: %w", err)
	}
	out := map[string]functionState{}
	var name string
	fn := functionState{found: true}
	_, err = pgx.ForEachRow(rows, []any{&name, &fn.src, &fn.lang, &fn.definer, &fn.sets}, func() error {
		out[name] = fn
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eventlog: verify: reading trigger functions: %w", err)
	}
	return out, nil
}

// appliedVersion reads eventlog's golang-migrate version; known is false
// when there is no version table to read (the tables were made another
// way).
func (s *Store) appliedVersion(ctx context.Context) (version int64, known bool, err error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL`, Migrations.Table).Scan(&exists); err != nil {
		return 0, false, fmt.Errorf("eventlog: verify: looking up %s: %w", Migrations.Table, err)
	}
	if !exists {
		return 0, false, nil
	}
	err = s.pool.QueryRow(ctx, `SELECT version FROM `+pgx.Identifier{Migrations.Table}.Sanitize()+` LIMIT 1`).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("eventlog: verify: reading %s: %w", Migrations.Table, err)
	}
	return version, true, nil
}

func checkFunction(name string, fn functionState, want def) *SchemaProblem {
	obj := "function " + name + "()"
	switch {
	case !fn.found:
		return &SchemaProblem{Object: obj,
			Message: fmt.Sprintf("function %s() is missing from eventlog_records' schema", name),
			Fix:     fmt.Sprintf("as the table's owner, run the CREATE FUNCTION %s() statement of eventlog/migrations/%s", name, want.file)}
	case fn.lang != "plpgsql" || fn.definer || fn.sets || strings.ReplaceAll(fn.src, "\r", "") != want.text:
		return &SchemaProblem{Object: obj,
			Message: fmt.Sprintf("function %s() was replaced: its definition differs from eventlog/migrations/%s", name, want.file),
			Fix: fmt.Sprintf("as the table's owner, run the CREATE FUNCTION %s() statement of eventlog/migrations/%s as CREATE OR REPLACE FUNCTION (DROP FUNCTION first if its language or options changed)",
				name, want.file)}
	}
	return nil
}

func checkTrigger(g guard, tg triggerState, create string) *SchemaProblem {
	obj := "trigger " + g.trigger
	switch {
	case !tg.found:
		return &SchemaProblem{Object: obj,
			Message: fmt.Sprintf("trigger %s is missing from eventlog_records: %s", g.trigger, g.keeps),
			Fix:     "as the table's owner, run: " + create}
	case tg.tgtype != g.tgtype || tg.newTable != g.newTable || tg.narrowed || tg.function != g.function || !tg.functionInTable:
		return &SchemaProblem{Object: obj,
			Message: fmt.Sprintf("trigger %s on eventlog_records was altered (its timing, events, condition or function differ from the migrations'): %s", g.trigger, g.keeps),
			Fix:     fmt.Sprintf("as the table's owner, run: DROP TRIGGER %s ON eventlog_records; %s", g.trigger, create)}
	case tg.enabled == "D" || tg.enabled == "R":
		how := "disabled"
		if tg.enabled == "R" {
			how = "set to fire only in replica sessions (ENABLE REPLICA)"
		}
		return &SchemaProblem{Object: obj,
			Message: fmt.Sprintf("trigger %s on eventlog_records is %s: %s", g.trigger, how, g.keeps),
			Fix:     fmt.Sprintf("as the table's owner, run: ALTER TABLE eventlog_records ENABLE TRIGGER %s", g.trigger)}
	}
	return nil
}

// Check is [Store.Verify] for a startup gate: nil, a [*SchemaError] with
// every problem, or the error that kept Verify from running.
//
//	app.StartupGate("event log", store.Check)
func (s *Store) Check(ctx context.Context) error {
	problems, err := s.Verify(ctx)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &SchemaError{Problems: problems}
	}
	return nil
}

// defs are the trigger and function definitions of the migration files,
// the latest file winning.
type defs struct {
	triggers  map[string]def // text: the CREATE TRIGGER statement, on one line
	functions map[string]def // text: the body as PostgreSQL stores it (pg_proc.prosrc)
}

type def struct {
	text    string
	file    string
	version int64
}

var (
	createFunctionRE = regexp.MustCompile(`(?s)CREATE (?:OR REPLACE )?FUNCTION (\w+)\(\)[^$]*\$\$(.*?)\$\$`)
	createTriggerRE  = regexp.MustCompile(`(?s)CREATE TRIGGER (\w+)\b[^;]*;`)
	migrationDefs    = sync.OnceValues(readDefs)
)

func readDefs() (defs, error) {
	d := defs{triggers: map[string]def{}, functions: map[string]def{}}
	ms, err := Migrations.Migrations()
	if err != nil {
		return d, err
	}
	for _, m := range ms {
		b, err := fs.ReadFile(Migrations.FS, m.File)
		if err != nil {
			return d, err
		}
		sql := strings.ReplaceAll(string(b), "\r", "")
		for _, f := range createFunctionRE.FindAllStringSubmatch(sql, -1) {
			d.functions[f[1]] = def{text: f[2], file: m.File, version: m.Version}
		}
		for _, t := range createTriggerRE.FindAllStringSubmatch(sql, -1) {
			d.triggers[t[1]] = def{text: strings.Join(strings.Fields(t[0]), " "), file: m.File, version: m.Version}
		}
	}
	return d, nil
}
