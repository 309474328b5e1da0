package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// readCategory pages through typ's records after from, limit at a time,
// until it has read n records (reading again while a page is held back:
// the fence is on the oldest transaction open anywhere on the server,
// and parallel tests open some), or for a second when n is 0. It returns
// the records' ids in order and the cursor after them.
func readCategory(t *testing.T, s *eventlog.Store, typ string, from eventlog.Cursor, limit, n int) ([]string, eventlog.Cursor) {
	t.Helper()
	var ids []string
	after := from
	deadline := time.Now().Add(10 * time.Second)
	if n == 0 {
		deadline = time.Now().Add(time.Second)
	}
	for (n == 0 || len(ids) < n) && time.Now().Before(deadline) {
		page, err := s.ReadCategory(context.Background(), typ, &eventlog.CategoryOpts{After: after, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) > limit {
			t.Fatalf("a page of %d records; the limit is %d", len(page.Records), limit)
		}
		for _, r := range page.Records {
			if r.Stream.Type != typ {
				t.Fatalf("record %s of type %s in a read of %s", r.ID, r.Stream.Type, typ)
			}
			ids = append(ids, r.ID)
		}
		if len(page.Records) == 0 && page.Next != after {
			t.Fatalf("an empty page moved the cursor from %+v to %+v", after, page.Next)
		}
		after = page.Next
		if !page.More {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return ids, after
}

// A category read pages through one stream type's records across streams,
// each once, in commit order: a transaction that wrote first (a lower
// position) but commits last comes last, and while it is open the read
// stops before the record it might precede.
func TestReadCategory(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "w")
	ctx := context.Background()
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("o%d", i)
		if _, err := s.Append(ctx, eventlog.Stream{Type: "order", ID: fmt.Sprint(i % 3)}, []eventlog.NewRecord{{ID: id, Data: js(i)}}, nil); err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, eventlog.Stream{Type: "customer", ID: fmt.Sprint(i)}, i) // another type, between them
		want = append(want, id)
	}
	got, _ := readCategory(t, s, "order", eventlog.Cursor{}, 3, len(want))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pages of 3: %v, want %v", got, want)
	}

	// T1 writes first and stays open; T2 writes after it and commits.
	t1, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Rollback(ctx)
	r1, err := s.AppendTx(ctx, t1, eventlog.Stream{Type: "order", ID: "late"}, []eventlog.NewRecord{{ID: "t1", Data: js(1)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Append(ctx, eventlog.Stream{Type: "order", ID: "early"}, []eventlog.NewRecord{{ID: "t2", Data: js(2)}}, nil)
	if err != nil || r2.Position <= r1.Position {
		t.Fatalf("T2 at %d after T1 at %d: %v", r2.Position, r1.Position, err)
	}
	// A second of reads while T1 is open: the committed seven, never T2's.
	got, next := readCategory(t, s, "order", eventlog.Cursor{}, 100, 0)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("with T1 open: %v; want the seven committed before it and nothing after", got)
	}
	page, err := s.ReadCategory(ctx, "order", &eventlog.CategoryOpts{After: next})
	if err != nil || len(page.Records) != 0 || !page.HeldBack {
		t.Fatalf("with T1 open: %+v %v; want an empty page held back", page, err)
	}
	if err := t1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := readCategory(t, s, "order", next, 100, 2); strings.Join(got, ",") != "t1,t2" {
		t.Fatalf("after T1 committed: %v; want t1 then t2", got)
	}
	if got, _ := readCategory(t, s, "customer", eventlog.Cursor{}, 100, 7); len(got) != 7 {
		t.Fatalf("customer records: %v", got)
	}
}

func TestReadCategoryRefusesBadInput(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "w")
	ctx := context.Background()
	for _, tc := range []struct {
		typ  string
		opts *eventlog.CategoryOpts
		want string
	}{
		{"", nil, "the stream type is empty"},
		{"bad\x00type", nil, "NUL byte"},
		{strings.Repeat("t", eventlog.MaxStreamTypeLen+1), nil, "MaxStreamTypeLen"},
		{"order", &eventlog.CategoryOpts{Limit: eventlog.MaxCategoryLimit + 1}, "over MaxCategoryLimit"},
		{"order", &eventlog.CategoryOpts{After: eventlog.Cursor{Position: -1}}, "negative"},
	} {
		_, err := s.ReadCategory(ctx, tc.typ, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadCategory(%.20q, %+v): %v; want %q", tc.typ, tc.opts, err, tc.want)
		}
		if tc.typ != "order" && !errors.Is(err, eventlog.ErrBadStream) {
			t.Errorf("ReadCategory(%.20q): %v is not ErrBadStream", tc.typ, err)
		}
	}
}
