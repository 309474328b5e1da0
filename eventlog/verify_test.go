package eventlog_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// runFix runs a problem's fix when it is SQL to run as it stands.
func runFix(t *testing.T, tb *testBundle, p eventlog.SchemaProblem) {
	t.Helper()
	sql, ok := strings.CutPrefix(p.Fix, "as the table's owner, run: ")
	if !ok {
		t.Fatalf("fix of %s is not SQL to run: %s", p.Object, p.Fix)
	}
	for _, stmt := range strings.Split(sql, "; ") {
		if _, err := tb.pool.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("running the fix of %s, %q: %v", p.Object, stmt, err)
		}
	}
}

func TestVerifyFindsWeakenedGuards(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		tamper string
		// objects are the problems Verify must report, in order.
		objects []string
		// in is text the first problem's message must contain.
		in string
		// fixable: running the problems' fixes makes Verify clean.
		fixable bool
	}{
		{"DisabledInsertCheck", `ALTER TABLE eventlog_records DISABLE TRIGGER eventlog_records_check_insert`,
			[]string{"trigger eventlog_records_check_insert"}, "is disabled", true},
		{"AllUserTriggersDisabled", `ALTER TABLE eventlog_records DISABLE TRIGGER USER`,
			[]string{"trigger eventlog_records_no_update_delete", "trigger eventlog_records_no_truncate", "trigger eventlog_records_check_insert"}, "is disabled", true},
		{"ReplicaOnlyTrigger", `ALTER TABLE eventlog_records ENABLE REPLICA TRIGGER eventlog_records_no_truncate`,
			[]string{"trigger eventlog_records_no_truncate"}, "replica", true},
		{"DroppedTrigger", `DROP TRIGGER eventlog_records_no_update_delete ON eventlog_records`,
			[]string{"trigger eventlog_records_no_update_delete"}, "is missing", true},
		{"TriggerNarrowedToDelete", `DROP TRIGGER eventlog_records_no_update_delete ON eventlog_records;
			CREATE TRIGGER eventlog_records_no_update_delete BEFORE DELETE ON eventlog_records FOR EACH ROW EXECUTE FUNCTION eventlog_reject_change()`,
			[]string{"trigger eventlog_records_no_update_delete"}, "was altered", true},
		{"TriggerWithACondition", `DROP TRIGGER eventlog_records_check_insert ON eventlog_records;
			CREATE TRIGGER eventlog_records_check_insert AFTER INSERT ON eventlog_records REFERENCING NEW TABLE AS added
				FOR EACH STATEMENT WHEN (current_user <> 'psql') EXECUTE FUNCTION eventlog_check_insert()`,
			[]string{"trigger eventlog_records_check_insert"}, "was altered", true},
		{"TriggerOnAnotherFunction", `CREATE FUNCTION allow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
			DROP TRIGGER eventlog_records_no_update_delete ON eventlog_records;
			CREATE TRIGGER eventlog_records_no_update_delete BEFORE UPDATE OR DELETE ON eventlog_records FOR EACH ROW EXECUTE FUNCTION allow()`,
			[]string{"trigger eventlog_records_no_update_delete"}, "was altered", true},
		{"ReplacedFunction", `CREATE OR REPLACE FUNCTION eventlog_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
			[]string{"function eventlog_reject_change()"}, "was replaced", false},
		{"FunctionWithASearchPath", `ALTER FUNCTION eventlog_check_insert() SET search_path = pg_temp, public`,
			[]string{"function eventlog_check_insert()"}, "was replaced", false},
		{"NoUniqueVersions", `ALTER TABLE eventlog_records DROP CONSTRAINT eventlog_records_stream_version`,
			[]string{"constraint eventlog_records_stream_version"}, "two writers can store the same version", false},
		{"MigrationNotApplied", `DROP TRIGGER eventlog_records_check_insert ON eventlog_records; DROP FUNCTION eventlog_check_insert();
			UPDATE eventlog_schema_migrations SET version = 3`,
			[]string{"eventlog migrations"}, "applied up to version 3; later ones in this build create trigger eventlog_records_check_insert", false},
		{"TriggerAndFunctionDropped", `DROP TRIGGER eventlog_records_check_insert ON eventlog_records; DROP FUNCTION eventlog_check_insert()`,
			[]string{"function eventlog_check_insert()", "trigger eventlog_records_check_insert"}, "is missing", false},
		{"NoTable", `ALTER TABLE eventlog_records RENAME TO eventlog_records_gone`,
			[]string{"table eventlog_records"}, "does not exist", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tb := newDB(t)
			s := newStore(t, tb, "b")
			ctx := context.Background()
			if problems, err := s.Verify(ctx); err != nil || len(problems) > 0 {
				t.Fatalf("freshly migrated: %v, %v", problems, err)
			}
			if _, err := tb.pool.Exec(ctx, c.tamper); err != nil {
				t.Fatal(err)
			}
			problems, err := s.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.Object)
				if p.Message == "" || p.Fix == "" {
					t.Errorf("%s: a problem without a message or a fix: %+v", c.name, p)
				}
			}
			if strings.Join(got, ", ") != strings.Join(c.objects, ", ") {
				t.Fatalf("problems with %s, want %s: %v", got, c.objects, problems)
			}
			if !strings.Contains(problems[0].Message, c.in) {
				t.Errorf("message %q does not say %q", problems[0].Message, c.in)
			}
			err = s.Check(ctx)
			var se *eventlog.SchemaError
			if !errors.Is(err, eventlog.ErrSchema) || !errors.As(err, &se) || len(se.Problems) != len(problems) ||
				!strings.Contains(err.Error(), problems[0].Fix) {
				t.Fatalf("Check: %v", err)
			}
			if !c.fixable {
				return
			}
			for _, p := range problems {
				runFix(t, tb, p)
			}
			if err := s.Check(ctx); err != nil {
				t.Fatalf("after running the fixes: %v", err)
			}
		})
	}
}

// A replaced function is what lets history be rewritten; Verify's report
// is the only sign of it.
func TestReplacedGuardFunctionLetsUpdatesThrough(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, "v1")
	if _, err := tb.pool.Exec(ctx, `CREATE OR REPLACE FUNCTION eventlog_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.pool.Exec(ctx, `UPDATE eventlog_records SET data = '"edited"'`); err != nil {
		t.Fatalf("the replaced function still rejects updates (%v); the test shows nothing", err)
	}
	err := s.Check(ctx)
	if !errors.Is(err, eventlog.ErrSchema) || !strings.Contains(err.Error(), "eventlog_reject_change") {
		t.Fatalf("Check after the function was replaced: %v", err)
	}
}
