package eventlog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// insertRaw inserts version of stream o/id by hand, as any role with
// INSERT could, with the given extra columns and values (", recorded_at",
// ", '2000-01-01'"), and returns the database's error.
func insertRaw(tb *testBundle, id string, version int64, cols, vals string) error {
	_, err := tb.pool.Exec(context.Background(), `INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, writer`+cols+`)
		VALUES ('o', $1::text, $2::bigint, gen_random_uuid()::text, '{}', 'psql'`+vals+`)`, id, version)
	return err
}

// refusedBy returns the SQLSTATE and constraint of a database error.
func refusedBy(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code + " " + pgErr.ConstraintName
	}
	return ""
}

// The database itself refuses a version that is not the stream's head + 1,
// whoever inserts it.
func TestDatabaseRefusesVersionsThatAreNotHeadPlusOne(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "o", ID: "1"}
	mustAppend(t, s, st, 1)
	mustAppend(t, s, st, 2)
	for _, c := range []struct {
		name    string
		id      string
		version int64
		want    string
	}{
		{"GapAfterTheHead", "1", 50, "23514 eventlog_records_gapless"},
		{"NewStreamNotAtOne", "2", 2, "23514 eventlog_records_gapless"},
		{"TakenVersion", "1", 2, "23505 eventlog_records_stream_version"},
		{"OlderVersion", "1", 1, "23505 eventlog_records_stream_version"},
	} {
		if err := insertRaw(tb, c.id, c.version, "", ""); refusedBy(err) != c.want {
			t.Errorf("%s: version %d of o/%s: %v, want %s", c.name, c.version, c.id, err, c.want)
		}
	}
	err := insertRaw(tb, "1", 50, "", "")
	if !strings.Contains(err.Error(), "the stream is at version 2, so the next is 3") {
		t.Errorf("the gap's error does not say what to insert: %v", err)
	}
	if err := insertRaw(tb, "1", 3, "", ""); err != nil {
		t.Fatalf("head + 1 by hand: %v", err)
	}
	if err := insertRaw(tb, "2", 1, "", ""); err != nil {
		t.Fatalf("version 1 of a new stream by hand: %v", err)
	}
	// Several versions of one stream in one multi-row statement, in
	// version order (so that their times rise with them); a statement with
	// a gap or out of order writes none of its rows.
	for _, c := range []struct {
		values string
		want   string
	}{
		{`('o', '3', 1, 'm1', '{}', 'psql'), ('o', '3', 2, 'm2', '{}', 'psql'), ('o', '3', 3, 'm3', '{}', 'psql')`, ""},
		{`('o', '4', 2, 'r2', '{}', 'psql'), ('o', '4', 1, 'r1', '{}', 'psql')`, "23514 eventlog_records_recorded_at"},
		{`('o', '5', 1, 'g1', '{}', 'psql'), ('o', '5', 3, 'g3', '{}', 'psql')`, "23514 eventlog_records_gapless"},
	} {
		_, err := tb.pool.Exec(ctx, `INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, writer) VALUES `+c.values)
		if refusedBy(err) != c.want || (c.want == "" && err != nil) {
			t.Errorf("%s: %v, want %q", c.values, err, c.want)
		}
	}
	if n := count(t, tb, ""); n != 7 {
		t.Fatalf("%d records, want 7", n)
	}
	res, err := s.Append(ctx, st, []eventlog.NewRecord{rec(4)}, &eventlog.AppendOpts{Expected: eventlog.Exactly(3)})
	if err != nil || res.Version != 4 {
		t.Fatalf("append after the hand-made version: %+v, %v", res, err)
	}
}

// Whoever inserts, a record's time is the database clock's during the
// insert and its xid is the inserting transaction's.
func TestDatabaseRefusesForeignTimesAndTransactions(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "o", ID: "1"}
	mustAppend(t, s, st, 1)
	for _, c := range []struct {
		name, cols, vals, want string
	}{
		{"Backdated", ", recorded_at", ", '2000-01-01'", "23514 eventlog_records_recorded_at"},
		{"FutureDated", ", recorded_at", ", now() + interval '1 hour'", "23514 eventlog_records_recorded_at"},
		{"BeforeThePreviousVersion", ", recorded_at", ", (SELECT recorded_at - interval '1 microsecond' FROM eventlog_records)", "23514 eventlog_records_recorded_at"},
		{"AnotherTransaction", ", xid", ", '1'", "23514 eventlog_records_xid"},
	} {
		err := insertRaw(tb, "1", 2, c.cols, c.vals)
		var pgErr *pgconn.PgError
		if refusedBy(err) != c.want || !errors.As(err, &pgErr) || pgErr.Hint == "" {
			t.Errorf("%s: %v, want %s with a hint", c.name, err, c.want)
		}
	}
	// The previous version's time is allowed: appends write it when the
	// clock has stepped back.
	if err := insertRaw(tb, "1", 2, ", recorded_at", ", (SELECT recorded_at FROM eventlog_records)"); err != nil {
		t.Fatalf("dated as the previous version: %v", err)
	}
	before := time.Now()
	if err := insertRaw(tb, "1", 3, "", ""); err != nil {
		t.Fatalf("default time and xid: %v", err)
	}
	v3, err := s.Version(ctx, st, 3)
	if err != nil {
		t.Fatal(err)
	}
	if v3.Time.Before(before.Add(-time.Minute)) || v3.Time.After(time.Now().Add(time.Minute)) || v3.TxID <= 1 {
		t.Fatalf("version 3 stored at %v by transaction %d", v3.Time, v3.TxID)
	}
	// A trigger that changes rows before they are inserted cannot get
	// past the check either.
	if _, err := tb.pool.Exec(ctx, `CREATE FUNCTION backdate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.recorded_at := '2000-01-01'; RETURN NEW; END $$;
		CREATE TRIGGER zz_backdate BEFORE INSERT ON eventlog_records FOR EACH ROW EXECUTE FUNCTION backdate()`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, st, []eventlog.NewRecord{rec(4)}, nil); refusedBy(err) != "23514 eventlog_records_recorded_at" {
		t.Fatalf("append through a backdating trigger: %v", err)
	}
	if n := count(t, tb, ""); n != 3 {
		t.Fatalf("%d records, want 3", n)
	}
	// As-of reads rely on times that rise with versions.
	page, err := s.History(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(page.Records); i++ {
		if page.Records[i].Time.Before(page.Records[i-1].Time) {
			t.Fatalf("version %d at %v is earlier than version %d at %v", i+1, page.Records[i].Time, i, page.Records[i-1].Time)
		}
	}
}
