package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestEventlogCommands(t *testing.T) {
	url := migtest.NewURL(t, eventlog.Migrations)
	ctx := context.Background()
	p, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	good, _ := eventlog.New(p, &eventlog.Config{Writer: "v41", Logger: quiet})
	bad, _ := eventlog.New(p, &eventlog.Config{Writer: "v42", Logger: quiet})
	defer good.Close()
	defer bad.Close()
	put := func(s *eventlog.Store, id, data string) {
		t.Helper()
		if _, err := s.Append(ctx, eventlog.Stream{Type: "order", ID: id}, []eventlog.NewRecord{{Data: json.RawMessage(data)}}, &eventlog.AppendOpts{Actor: "api"}); err != nil {
			t.Fatal(err)
		}
	}
	put(good, "1", `{"total":30}`)
	put(good, "2", `{"total":50}`)
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	put(bad, "1", `{"total":-30}`)
	put(bad, "2", `{"total":-50}`)
	put(good, "2", `{"total":55}`)
	db := "--database-url=" + url

	out, code := runCLI(t, "eventlog", "history", "order/2", db)
	if code != 0 || !strings.Contains(out, `{"total": 55}`) || strings.Index(out, "v41") > strings.Index(out, "v42") {
		t.Fatalf("history: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "eventlog", "revert-writer", "v42", "--since", since, "--dry-run", db)
	if code != 1 || !strings.Contains(out, "would revert to 1 as version 3") || !strings.Contains(out, "skipped: changed afterwards by [v41]") {
		t.Fatalf("revert-writer dry run: exit %d\n%s", code, out)
	}
	if r, _ := good.Latest(ctx, eventlog.Stream{Type: "order", ID: "1"}); r.Version != 2 {
		t.Fatalf("dry run wrote version %d", r.Version)
	}
	out, code = runCLI(t, "eventlog", "revert-writer", "v42", "--since", since, "--actor", "oncall", db)
	if code != 1 || !strings.Contains(out, "reverted 1 of 2 streams") || !strings.Contains(out, "1 stream(s) left alone") {
		t.Fatalf("revert-writer: exit %d\n%s", code, out)
	}
	r, _ := good.Latest(ctx, eventlog.Stream{Type: "order", ID: "1"})
	if string(r.Data) != `{"total": 30}` || r.Actor != "oncall" || !strings.HasPrefix(r.Writer, "seatbelt-cli/") || r.RevertOf != 1 {
		t.Fatalf("order/1 after revert-writer: %+v %s", r, r.Data)
	}
	out, code = runCLI(t, "eventlog", "revert", "order/2", "--to", "1", "--expect", "3", "--dry-run", db)
	if code != 0 || !strings.Contains(out, "would revert order/2 from version 3 to version 1's data as version 4") {
		t.Fatalf("revert dry run: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "eventlog", "revert", "order/2", "--to", "1", "--expect", "2", db)
	if code != 1 || !strings.Contains(out, "version conflict") {
		t.Fatalf("stale revert: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "eventlog", "revert", "order/2", "--to", "1", "--reason", "customer asked", db)
	if code != 0 || !strings.Contains(out, "reverted order/2 from version 3") {
		t.Fatalf("revert: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "eventlog", "revert-writer", "v42", "--since", since, db)
	if code != 0 || !strings.Contains(out, "already reverted") {
		t.Fatalf("revert-writer again: exit %d\n%s", code, out)
	}
	if _, code := runCLI(t, "eventlog", "history", "order", db); code != 2 {
		t.Fatalf("bad stream name: exit %d", code)
	}
	t.Setenv("DATABASE_URL", "")
	if out, code := runCLI(t, "eventlog", "history", "order/1"); code != 2 || !strings.Contains(out, "--database-url") {
		t.Fatalf("no database: exit %d\n%s", code, out)
	}
}

// A stream type may hold a slash, so "billing/invoice/1" names the stream
// of type billing with id invoice/1, or of type billing/invoice with id
// 1. Split at the first slash, it read and reverted the first while the
// operator, who copied the name of the second, meant that one.
func TestEventlogStreamWhoseTypeHoldsASlash(t *testing.T) {
	t.Parallel()
	url, s := newStore(t)
	ctx := context.Background()
	inType := eventlog.Stream{Type: "billing/invoice", ID: "1"}
	inID := eventlog.Stream{Type: "billing", ID: "invoice/1"}
	report := eventlog.Stream{Type: "report/2024", ID: "q1"}
	for _, a := range []struct {
		st   eventlog.Stream
		data string
	}{{inType, `{"in":"type","n":1}`}, {inType, `{"in":"type","n":2}`}, {inID, `{"in":"id"}`}, {report, `{"in":"report"}`}} {
		if _, err := s.Append(ctx, a.st, []eventlog.NewRecord{{Data: json.RawMessage(a.data)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	versions := func() (int64, int64) {
		t.Helper()
		a, err := s.Latest(ctx, inType)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Latest(ctx, inID)
		if err != nil {
			t.Fatal(err)
		}
		return a.Version, b.Version
	}
	db := "--database-url=" + url

	for _, args := range [][]string{{"history", "billing/invoice/1"}, {"revert", "billing/invoice/1", "--to", "1"}} {
		out, code := runCLI(t, append(append([]string{"eventlog"}, args...), db)...)
		if code != 2 || !strings.Contains(out, `type "billing/invoice" with id "1"`) || !strings.Contains(out, `type "billing" with id "invoice/1"`) || !strings.Contains(out, "--type") {
			t.Fatalf("%s of a name two streams have: exit %d, want 2 naming both and --type\n%s", args[0], code, out)
		}
	}
	if a, b := versions(); a != 2 || b != 1 {
		t.Fatalf("after the refused revert: versions %d and %d, want 2 and 1", a, b)
	}

	out, code := runCLI(t, "eventlog", "history", "billing/invoice/1", "--type", "billing/invoice", db)
	if code != 0 || !strings.Contains(out, `"in": "type"`) || strings.Contains(out, `"in": "id"`) {
		t.Fatalf("history --type billing/invoice: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "eventlog", "revert", "billing/invoice/1", "--type", "billing/invoice", "--to", "1", db)
	if code != 0 {
		t.Fatalf("revert --type billing/invoice: exit %d\n%s", code, out)
	}
	if a, b := versions(); a != 3 || b != 1 {
		t.Fatalf("after revert --type billing/invoice: versions %d and %d, want 3 and 1", a, b)
	}
	if r, _ := s.Latest(ctx, inType); string(r.Data) != `{"n": 1, "in": "type"}` {
		t.Fatalf("billing/invoice 1 reverted to %s", r.Data)
	}

	// A name only one stream in the log has names it.
	out, code = runCLI(t, "eventlog", "history", "report/2024/q1", db)
	if code != 0 || !strings.Contains(out, `"in": "report"`) {
		t.Fatalf("history of a name one stream has: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "eventlog", "history", "billing/invoice/1", "--type", "order", db)
	if code != 2 || !strings.Contains(out, "--type") {
		t.Fatalf("--type the name does not begin with: exit %d\n%s", code, out)
	}
}

func TestEventlogCategory(t *testing.T) {
	t.Parallel()
	url, s := newStore(t)
	ctx := context.Background()
	for i, st := range []eventlog.Stream{{Type: "order", ID: "1"}, {Type: "customer", ID: "ada"}, {Type: "order", ID: "2"}, {Type: "order", ID: "1"}} {
		if _, err := s.Append(ctx, st, []eventlog.NewRecord{{Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	db := "--database-url=" + url
	// Pages of two, following each page's "more:" line (read again while
	// a transaction elsewhere on the server holds the page back).
	var seen []string
	after := ""
	for deadline := time.Now().Add(10 * time.Second); len(seen) < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("read %v in 10 s", seen)
		}
		out, code := runCLI(t, "eventlog", "category", "order", "--limit", "2", "--after", after, db)
		if code != 0 || !strings.Contains(out, "POSITION") {
			t.Fatalf("category: exit %d\n%s", code, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[1], "order/") {
				seen = append(seen, f[1]+"@"+f[2])
			}
			for _, p := range []string{"more: --after ", "run again with --after ", "new records follow --after "} {
				if i := strings.Index(line, p); i >= 0 {
					after = strings.TrimSpace(line[i+len(p):])
				}
			}
		}
	}
	if strings.Join(seen, ",") != "order/1@1,order/2@1,order/1@2" {
		t.Fatalf("records %v", seen)
	}
	if out, code := runCLI(t, "eventlog", "category", "order", "--after", "12", db); code != 2 || !strings.Contains(out, "want TXID:POSITION") {
		t.Fatalf("a bad --after: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "eventlog", "category", "order", "--limit", "0", db); code != 2 || !strings.Contains(out, "--limit 0") {
		t.Fatalf("a bad --limit: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "eventlog", "category", "", db); code == 0 || !strings.Contains(out, "stream type is empty") {
		t.Fatalf("an empty type: exit %d\n%s", code, out)
	}
}

// seatbelt eventlog rebuild watches a rebuild a service left under way, and
// cancels it.
func TestEventlogRebuild(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t, eventlog.Migrations)
	ctx := context.Background()
	p, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	db := "--database-url=" + url
	out, code := runCLI(t, "eventlog", "rebuild", "summaries", db)
	if code != 1 || !strings.Contains(out, "no rebuild of \"summaries\" is under way") {
		t.Fatalf("no rebuild: exit %d\n%s", code, out)
	}
	// What a killed rebuild leaves: its checkpoint, 40 records in.
	if _, err := p.Exec(ctx, `INSERT INTO eventlog_consumers (name, handled) VALUES ('rebuild/summaries', 40), ('summaries', 7)`); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, "eventlog", "rebuild", "summaries", db)
	if code != 0 || !strings.Contains(out, "summaries: rebuild handled 40 records, 0 records behind the log") {
		t.Fatalf("a rebuild under way: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "eventlog", "rebuild", "summaries", db, "--cancel")
	if code != 0 || !strings.Contains(out, "rebuild of summaries cancelled") {
		t.Fatalf("cancel: exit %d\n%s", code, out)
	}
	var n int
	p.QueryRow(ctx, `SELECT count(*) FROM eventlog_consumers WHERE name = 'rebuild/summaries'`).Scan(&n)
	if n != 0 {
		t.Fatal("the cancelled rebuild's checkpoint is still there")
	}
	if out, code = runCLI(t, "eventlog", "rebuild", "summaries", db, "--cancel"); code != 1 {
		t.Fatalf("a second cancel: exit %d, want 1\n%s", code, out)
	}
}

// newStore returns the URL of a new database with the event log's
// migrations applied, and a Store on it, closed when the test ends.
func newStore(t *testing.T) (string, *eventlog.Store) {
	t.Helper()
	url := migtest.NewURL(t, eventlog.Migrations)
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s, err := eventlog.New(p, &eventlog.Config{Writer: "v7", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return url, s
}
