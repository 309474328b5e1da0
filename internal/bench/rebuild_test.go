package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// lastJSON decodes the JSON object on the last line of out into v.
func lastJSON(t *testing.T, out string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
}

func TestBenchRebuildSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "rebuild", "--json", "--records", "5000", "--batch", "200")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var r benchRebuildResult
	lastJSON(t, out, &r)
	if r.Records != 5000 || r.Handled != 5000 || r.Batch != 200 || r.Batches != 25 || r.Streams < 400 || r.Streams > 500 || r.FillSeconds <= 0 {
		t.Fatalf("result %+v: want 5,000 records on about 500 streams rebuilt in 25 batches", r)
	}
	if r.RebuildSeconds <= 0 || math.Abs(r.RecordsPerSec*r.RebuildSeconds-5000) > 1 || r.SwitchSeconds <= 0 || r.SwitchSeconds >= r.RebuildSeconds {
		t.Fatalf("result %+v: the rate is not the records over the whole call, or the switch is not within it", r)
	}
	// The live model lacked every stream's note before: equal now, the
	// switch replaced it.
	if r.ModelRows != r.Streams || r.Mismatches != 0 || r.Met != (r.RecordsPerSec >= rebuildGoal) || r.Written != 0 {
		t.Fatalf("result %+v", r)
	}
	for _, want := range []string{"rebuild into a fresh read model, switch included", ">= 50000 records/s", thousands(r.Streams) + " rows, 0 wrong"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the table:\n%s", want, out)
		}
	}
}

// Records appended during the rebuild reach the switched model, through
// the rebuild or the live consumer.
func TestBenchRebuildWithWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole-system bench run; go test without -short runs it")
	}
	out, code := runBench(t, "rebuild", "--json", "--records", "3000", "--batch", "100", "--with-writes", "200")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var r benchRebuildResult
	lastJSON(t, out, &r)
	if r.WithWrites != 200 || r.Written == 0 || r.Handled < 3000 || r.Mismatches != 0 || r.ModelRows < r.Streams || r.CatchUpSeconds <= 0 {
		t.Fatalf("result %+v: want records written during the rebuild and a model equal to the log", r)
	}
	if !strings.Contains(out, "appended during the rebuild (200/s asked)") {
		t.Fatalf("no row of the writes:\n%s", out)
	}
}

func TestBenchRebuildRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--records", "10"}, {"--batch", "0"}, {"--with-writes", "-1"}} {
		if out, code := runBench(t, append([]string{"rebuild"}, args...)...); code != 2 || !strings.Contains(out, args[0]) {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
}

// The batch handler keeps a stream's highest version, never going back;
// the comparison finds every kind of wrong row.
func TestRebuildHandlerAndModelCheck(t *testing.T) {
	ctx := t.Context()
	server, closeServer, err := findServer(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeServer()
	db, drop, err := eventlogScratch(ctx, server, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	store, err := eventlog.New(db, &eventlog.Config{Writer: "test", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, b := eventlog.Stream{Type: "order", ID: "order-1"}, eventlog.Stream{Type: "invoice", ID: "invoice-2"}
	for _, s := range []eventlog.Stream{a, a, b, a} {
		if _, err := store.Append(ctx, s, []eventlog.NewRecord{{Data: []byte(`{"of": "` + s.ID + `"}`)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `CREATE TABLE stream_state (stream_type text, stream_id text, version bigint NOT NULL, data jsonb NOT NULL, PRIMARY KEY (stream_type, stream_id));
		CREATE TABLE stream_state_new (LIKE stream_state INCLUDING ALL)`); err != nil {
		t.Fatal(err)
	}
	rec := func(s eventlog.Stream, v int64) *eventlog.Record {
		return &eventlog.Record{Stream: s, Version: v, Data: []byte(fmt.Sprintf(`{"v": %d}`, v))}
	}
	batches := [][]*eventlog.Record{{rec(a, 1), rec(a, 3), rec(b, 1), rec(a, 2)}, {rec(a, 2), rec(b, 2)}}
	for _, recs := range batches {
		if err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { return handleStateBatch(ctx, tx, recs) }); err != nil {
			t.Fatal(err)
		}
	}
	var got string
	if err := db.QueryRow(ctx, `SELECT string_agg(stream_id || ' v' || version || ' ' || data::text, '; ' ORDER BY stream_id) FROM stream_state_new`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := `invoice-2 v2 {"v": 2}; order-1 v3 {"v": 3}`; got != want {
		t.Fatalf("stream_state_new holds %s, want %s", got, want)
	}

	check := func(fix string, wantRows, wantWrong int64) {
		t.Helper()
		if _, err := db.Exec(ctx, fix); err != nil {
			t.Fatal(err)
		}
		rows, wrong, err := compareStreamState(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if rows != wantRows || wrong != wantWrong {
			t.Fatalf("after %s: %d rows, %d wrong; want %d, %d", fix, rows, wrong, wantRows, wantWrong)
		}
	}
	check(`INSERT INTO stream_state SELECT DISTINCT ON (stream_type, stream_id) stream_type, stream_id, version, data
		FROM eventlog_records ORDER BY stream_type, stream_id, version DESC`, 2, 0)
	check(`UPDATE stream_state SET version = 2 WHERE stream_id = 'order-1'`, 2, 1)
	check(`UPDATE stream_state SET version = 3, data = '{}' WHERE stream_id = 'order-1'`, 2, 1)
	check(`DELETE FROM stream_state WHERE stream_id = 'order-1'`, 1, 1)
	check(`INSERT INTO stream_state VALUES ('order', 'order-9', 1, '{}')`, 2, 2)
}
