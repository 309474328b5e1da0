package eventlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func TestAppendVersionsFromOne(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "build-1")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "42"}
	res, err := s.Append(ctx, st, []eventlog.NewRecord{rec(map[string]int{"n": 1}), rec(map[string]int{"n": 2})}, &eventlog.AppendOpts{Expected: eventlog.NoStream})
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstVersion != 1 || res.Version != 2 || res.Position == 0 || res.Duplicate {
		t.Fatalf("first append: %+v", res)
	}
	res, err = s.Append(ctx, st, []eventlog.NewRecord{rec(map[string]int{"n": 3})}, &eventlog.AppendOpts{Expected: eventlog.Exactly(2)})
	if err != nil || res.FirstVersion != 3 || res.Version != 3 {
		t.Fatalf("second append: %+v, %v", res, err)
	}
	latest, err := s.Latest(ctx, st)
	if err != nil || latest.Version != 3 || dataOf(t, latest) != "map[n:3]" {
		t.Fatalf("latest: %+v, %v", latest, err)
	}
	v2, err := s.Version(ctx, st, 2)
	if err != nil || dataOf(t, v2) != "map[n:2]" || v2.Writer != "build-1" || string(v2.Metadata) != "{}" {
		t.Fatalf("version 2: %+v, %v", v2, err)
	}
	if _, err := s.Version(ctx, st, 4); !errors.Is(err, eventlog.ErrNotFound) {
		t.Fatalf("version 4: %v, want ErrNotFound", err)
	}
	if _, err := s.Latest(ctx, eventlog.Stream{Type: "order", ID: "43"}); !errors.Is(err, eventlog.ErrNotFound) {
		t.Fatalf("missing stream: %v, want ErrNotFound", err)
	}
}

func TestEmptyAppendIsNoOp(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "1"}
	mustAppend(t, s, st, "a")
	res, err := s.Append(ctx, st, nil, &eventlog.AppendOpts{Expected: eventlog.Exactly(1)})
	if err != nil || res.Version != 1 || res.FirstVersion != 1 || res.Position != 0 {
		t.Fatalf("empty append: %+v, %v", res, err)
	}
	if _, err := s.Append(ctx, st, nil, &eventlog.AppendOpts{Expected: eventlog.NoStream}); !errors.Is(err, eventlog.ErrVersionConflict) {
		t.Fatalf("empty append with a wrong expectation: %v", err)
	}
	if n := count(t, tb, ""); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

func TestVersionConflictCarriesVersions(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "7"}
	mustAppend(t, s, st, 1)
	mustAppend(t, s, st, 2)
	for _, exp := range []eventlog.ExpectedVersion{eventlog.NoStream, eventlog.Exactly(1), eventlog.Exactly(5)} {
		_, err := s.Append(ctx, st, []eventlog.NewRecord{rec(3), rec(4)}, &eventlog.AppendOpts{Expected: exp})
		if !errors.Is(err, eventlog.ErrVersionConflict) {
			t.Fatalf("expected %v: %v, want a version conflict", exp, err)
		}
		var vc *eventlog.VersionConflictError
		if !errors.As(err, &vc) || vc.Stream != st || vc.Expected != exp || vc.Actual != 2 {
			t.Fatalf("expected %v: conflict %+v", exp, vc)
		}
	}
	if n := count(t, tb, ""); n != 2 {
		t.Fatalf("%d records after conflicts, want 2", n)
	}
}

func TestMultiRecordAppendIsAllOrNothing(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	a := eventlog.Stream{Type: "order", ID: "a"}
	b := eventlog.Stream{Type: "order", ID: "b"}
	if _, err := s.Append(ctx, a, []eventlog.NewRecord{{ID: "taken", Data: js(1)}}, nil); err != nil {
		t.Fatal(err)
	}
	// The third record reuses an id stored on another stream.
	_, err := s.Append(ctx, b, []eventlog.NewRecord{{ID: "b1", Data: js(1)}, {ID: "b2", Data: js(2)}, {ID: "taken", Data: js(3)}}, nil)
	if !errors.Is(err, eventlog.ErrRecordIDReused) {
		t.Fatalf("got %v, want ErrRecordIDReused", err)
	}
	if n := count(t, tb, "stream_id = 'b'"); n != 0 {
		t.Fatalf("%d records of b written by a failed append, want 0", n)
	}
	// The third record is JSON that PostgreSQL's jsonb refuses, so the
	// statement fails on its third row.
	_, err = s.Append(ctx, b, []eventlog.NewRecord{rec(1), rec(2), {Data: []byte(`"\u0000"`)}}, nil)
	if err == nil {
		t.Fatal("append with a NUL escape succeeded")
	}
	if n := count(t, tb, "stream_id = 'b'"); n != 0 {
		t.Fatalf("%d records of b written by a failed append, want 0", n)
	}
	_, err = s.Append(ctx, b, []eventlog.NewRecord{rec(1), {Data: []byte("{not json")}}, nil)
	if !errors.Is(err, eventlog.ErrBadRecord) {
		t.Fatalf("got %v, want ErrBadRecord", err)
	}
	if n := count(t, tb, "stream_id = 'b'"); n != 0 {
		t.Fatalf("%d records of b written by a bad append, want 0", n)
	}
}

func TestRecordIDMakesRetriesIdempotent(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "9"}
	mustAppend(t, s, st, 0)
	batch := []eventlog.NewRecord{{ID: "req-1/a", Data: js(1)}, {ID: "req-1/b", Data: js(2)}}
	first, err := s.Append(ctx, st, batch, &eventlog.AppendOpts{Expected: eventlog.Exactly(1)})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, st, 3) // someone else wrote after; the retry must not conflict
	again, err := s.Append(ctx, st, batch, &eventlog.AppendOpts{Expected: eventlog.Exactly(1)})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.FirstVersion != first.FirstVersion || again.Version != first.Version || again.Position != first.Position {
		t.Fatalf("retry: %+v, first: %+v", again, first)
	}
	if n := count(t, tb, ""); n != 4 {
		t.Fatalf("%d records, want 4", n)
	}
	// A stored id beside a new one is a misuse, not a retry.
	mixed := []eventlog.NewRecord{batch[1], {ID: "req-2", Data: js(9)}}
	if _, err := s.Append(ctx, st, mixed, nil); !errors.Is(err, eventlog.ErrRecordIDReused) {
		t.Fatalf("stored id beside a new one: %v, want ErrRecordIDReused", err)
	}
	if _, err := s.Append(ctx, eventlog.Stream{Type: "order", ID: "10"}, batch, nil); !errors.Is(err, eventlog.ErrRecordIDReused) {
		t.Fatalf("ids on another stream: %v, want ErrRecordIDReused", err)
	}
}

func TestTableRejectsUpdateDeleteTruncate(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	mustAppend(t, s, eventlog.Stream{Type: "order", ID: "1"}, "v1")
	for _, sql := range []string{
		`UPDATE eventlog_records SET data = '"edited"'`,
		`DELETE FROM eventlog_records`,
		`TRUNCATE eventlog_records`,
	} {
		_, err := tb.pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23001" {
			t.Fatalf("%s: %v, want restrict_violation", sql, err)
		}
	}
	if n := count(t, tb, `data = '"v1"'`); n != 1 {
		t.Fatalf("record changed: %d rows still hold v1", n)
	}
}

// Not parallel: it wants many connections of a server other tests share.
func TestFiftyWritersOneExpectedVersionOneWins(t *testing.T) {
	tb := newDBConns(t, 25)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "account", ID: "1"}
	mustAppend(t, s, st, "opened")
	const writers = 50
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Append(ctx, st, []eventlog.NewRecord{rec(i)}, &eventlog.AppendOpts{Expected: eventlog.Exactly(1)})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		var vc *eventlog.VersionConflictError
		switch {
		case err == nil:
			wins++
		case errors.As(err, &vc) && vc.Actual == 2:
		default:
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d writers won, want exactly 1", wins)
	}
	// Then all of them with AnyVersion: every one lands, gapless.
	for i := range writers {
		wg.Go(func() {
			if _, err := s.Append(ctx, st, []eventlog.NewRecord{rec(i)}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var n, maxV, distinct int64
	err := tb.pool.QueryRow(ctx, `SELECT count(*), max(version), count(DISTINCT version) FROM eventlog_records`).Scan(&n, &maxV, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2+writers || maxV != n || distinct != n {
		t.Fatalf("%d records, max version %d, %d distinct: not gapless from 1", n, maxV, distinct)
	}
}

func TestAppendTxCommitsWithTheCaller(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, `CREATE TABLE outbox (note text)`); err != nil {
		t.Fatal(err)
	}
	st := eventlog.Stream{Type: "order", ID: "1"}
	for _, commit := range []bool{false, true} {
		tx, err := tb.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox VALUES ($1)`, fmt.Sprint(commit)); err != nil {
			t.Fatal(err)
		}
		res, err := s.AppendTx(ctx, tx, st, []eventlog.NewRecord{rec(commit)}, &eventlog.AppendOpts{Expected: eventlog.NoStream})
		if err != nil || res.Version != 1 {
			t.Fatalf("append in tx: %+v, %v", res, err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var notes int
	tb.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&notes)
	latest, err := s.Latest(ctx, st)
	if err != nil || notes != 1 || latest.Version != 1 || dataOf(t, latest) != "true" {
		t.Fatalf("after rollback then commit: %d notes, latest %+v, %v", notes, latest, err)
	}
}

func TestDefaultRecordIDsAreUUIDv7InTimeOrder(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	st := eventlog.Stream{Type: "o", ID: "1"}
	var ids []string
	for i := range 3 {
		mustAppend(t, s, st, i)
		r, err := s.Latest(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		time.Sleep(2 * time.Millisecond)
	}
	for i, id := range ids {
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) || strings.Count(id, "-") != 4 {
			t.Fatalf("id %q is not a UUIDv7", id)
		}
		if i > 0 && id <= ids[i-1] {
			t.Fatalf("ids out of time order: %v", ids)
		}
	}
}

// JSON that json.Valid accepts but jsonb refuses is a bad record, refused
// before it is sent: a service that maps ErrBadRecord to a 4xx answered
// 500 with the server's error, and an AppendTx caller's transaction was
// aborted by it.
// An Actor or Reason text cannot store is refused before anything is
// sent, as ErrBadRecord naming the field; an AppendTx caller's transaction
// goes on.
func TestAppendRefusesActorAndReasonTextCannotStore(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "1"}
	tx, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	for _, c := range []struct {
		opts eventlog.AppendOpts
		want string
	}{
		{eventlog.AppendOpts{Actor: "on\x00call"}, "AppendOpts.Actor contains a NUL byte"},
		{eventlog.AppendOpts{Reason: "caf\xe9"}, "AppendOpts.Reason is not valid UTF-8"},
	} {
		if _, err := s.Append(ctx, st, []eventlog.NewRecord{rec("a")}, &c.opts); !errors.Is(err, eventlog.ErrBadRecord) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Append with %+v: %v, want ErrBadRecord saying %q", c.opts, err, c.want)
		}
		if _, err := s.AppendTx(ctx, tx, st, []eventlog.NewRecord{rec("a")}, &c.opts); !errors.Is(err, eventlog.ErrBadRecord) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AppendTx with %+v: %v, want ErrBadRecord saying %q", c.opts, err, c.want)
		}
	}
	if _, err := s.AppendTx(ctx, tx, st, []eventlog.NewRecord{rec("a")}, &eventlog.AppendOpts{Actor: "oncall"}); err != nil {
		t.Fatalf("AppendTx after the refused ones: %v", err)
	}
}

func TestAppendRefusesJSONThatJsonbCannotStore(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "1"}
	for _, c := range []struct{ json, want string }{
		{`{"a":"\u0000"}`, `holds a \u0000 escape`},
		{`"\ud800"`, "a lone UTF-16 surrogate escape"},
		{`1e1000000`, "outside what jsonb's numeric stores"},
	} {
		for _, field := range []string{"Data", "Metadata"} {
			r := eventlog.NewRecord{Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`{}`)}
			if field == "Data" {
				r.Data = json.RawMessage(c.json)
			} else {
				r.Metadata = json.RawMessage(c.json)
			}
			check := func(how string, err error) {
				t.Helper()
				if !errors.Is(err, eventlog.ErrBadRecord) || !strings.Contains(err.Error(), field+": ") || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s with %s %s: %v, want ErrBadRecord naming %s and saying %q", how, field, c.json, err, field, c.want)
				}
			}
			_, err := s.Append(ctx, st, []eventlog.NewRecord{r}, nil)
			check("Append", err)
			tx, err := tb.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tx.Rollback(ctx) }) // before the pool closes, which waits for it
			_, err = s.AppendTx(ctx, tx, st, []eventlog.NewRecord{rec("good"), r}, nil)
			check("AppendTx", err)
			// Refused before anything was sent: the caller's transaction
			// goes on.
			if _, err := s.AppendTx(ctx, tx, st, []eventlog.NewRecord{rec("good")}, nil); err != nil {
				t.Fatalf("AppendTx after the refused one: %v", err)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := count(t, tb, ""); n != 0 {
		t.Fatalf("%d records stored, want none", n)
	}
}

// The check made before sending refuses what the server refuses, and
// stores what it stores, at the edges of jsonb's numbers and escapes: an
// AppendTx is refused with its transaction still usable, or stored.
func TestAppendJSONCheckAgreesWithTheServer(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	for i, v := range []string{
		`1e131071`, `1e131072`, `12345e131067`, `12345e131068`, `-100e131069`, `100e131070`,
		`0.001e131074`, `0.001e131075`, `1E+131071`, `0.0e131075`,
		`1e-16383`, `1e-16384`, `0e-16383`, `0e-16384`, `0.5e-16382`, `0.5e-16383`, `1.000e-16380`, `1.000e-16381`,
		`0e1073741822`, `0e1073741823`, `0e99999999999999999999`, `-0`, `0.` + strings.Repeat("0", 16383) + `1`,
		`1` + strings.Repeat("0", 131071), `1` + strings.Repeat("0", 131072),
		`"\\u0000"`, `"\ud83d\ude00"`, `"\ud800\u0041"`, `"\ud800x"`, `"\udc00"`, `"\ud800\ud800\udc00"`, `"x\ud800"`,
		`"\ud800\\"`, `{"\u0000":1}`, `["\u00e9", "\"\u0000"]`, `"\"\\\"\\u0000"`,
		"\"\xff\"", // json.Valid takes invalid UTF-8 in a string; text does not
	} {
		var stored bool
		var msg string
		if _, err := tb.pool.Exec(ctx, `SELECT $1::text::jsonb`, v); err != nil {
			msg = err.Error()
		} else {
			stored = true
		}
		tx, err := tb.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.AppendTx(ctx, tx, eventlog.Stream{Type: "n", ID: fmt.Sprint(i)}, []eventlog.NewRecord{{Data: json.RawMessage(v)}}, nil)
		short := v
		if len(short) > 40 {
			short = short[:40] + "..."
		}
		switch {
		case stored && err != nil:
			t.Errorf("%s: the server stores it, AppendTx refused it: %v", short, err)
		case !stored && !errors.Is(err, eventlog.ErrBadRecord):
			t.Errorf("%s: the server refuses it (%s), AppendTx gave %v, want ErrBadRecord", short, msg, err)
		case !stored:
			if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
				t.Errorf("%s: refused by the server, not before sending: the transaction is aborted (%v)", short, err)
			}
		}
		tx.Rollback(ctx)
	}
}

// What the check before sending cannot know (jsonb's size limits, a
// database encoding without the escaped character) the server refuses:
// its refusal of a record's JSON is an ErrBadRecord too.
func TestServerRefusalOfJSONIsABadRecord(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	for _, v := range []string{`"\u0000"`, `"\ud800"`, `1e1000000`} {
		_, err := tb.pool.Exec(ctx, `SELECT $1::text::jsonb`, v)
		if err == nil {
			t.Fatalf("the server stored %s", v)
		}
		err = eventlog.JSONBRefused(eventlog.Stream{Type: "o", ID: "1"}, err)
		if !errors.Is(err, eventlog.ErrBadRecord) || !strings.Contains(err.Error(), "refused a record of o/1 as jsonb") {
			t.Errorf("%s: %v, want ErrBadRecord", v, err)
		}
	}
	if err := eventlog.JSONBRefused(eventlog.Stream{Type: "o", ID: "1"}, &pgconn.PgError{Code: "23505"}); errors.Is(err, eventlog.ErrBadRecord) {
		t.Errorf("a unique violation became %v", err)
	}
}

// JSON nested deeper than the server's stack allows is refused as jsonb
// with SQLSTATE 54001 (stack depth limit exceeded). At the default
// max_stack_depth (2 MB) the server parses deeper nesting than json.Valid
// accepts (10,000 levels), but a superuser may lower it for a role or a
// database: the refusal is then a bad record too, not a bare database
// error a service answers 500 for.
func TestJSONTooDeepForTheServersStackIsABadRecord(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	tx, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `SET LOCAL max_stack_depth = '100kB'`); err != nil {
		t.Fatal(err)
	}
	deep := json.RawMessage(strings.Repeat(`{"a":[`, 1000) + strings.Repeat(`]}`, 1000))
	_, err = s.AppendTx(ctx, tx, eventlog.Stream{Type: "o", ID: "1"}, []eventlog.NewRecord{{Data: deep}}, nil)
	if !errors.Is(err, eventlog.ErrBadRecord) || !strings.Contains(err.Error(), "SQLSTATE 54001") || !strings.Contains(err.Error(), "nests") {
		t.Fatalf("AppendTx of JSON 2,000 levels deep with max_stack_depth 100kB: %v, want ErrBadRecord of the server's SQLSTATE 54001, saying it nests too deep", err)
	}
}
