package eventlog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func TestAsOfAtExactBoundaries(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "price", ID: "sku-1"}
	var times []time.Time
	for i := 1; i <= 3; i++ {
		mustAppend(t, s, st, i)
		r, err := s.Latest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, r.Time)
		time.Sleep(2 * time.Millisecond) // distinct microsecond timestamps
	}
	if _, err := s.AsOf(ctx, st, times[0].Add(-time.Microsecond)); !errors.Is(err, eventlog.ErrNotFound) {
		t.Fatalf("1µs before the first version: %v, want ErrNotFound", err)
	}
	for i, at := range times {
		r, err := s.AsOf(ctx, st, at)
		if err != nil || r.Version != int64(i+1) {
			t.Fatalf("as of version %d's own time: %+v, %v", i+1, r, err)
		}
		if i > 0 {
			r, err := s.AsOf(ctx, st, at.Add(-time.Microsecond))
			if err != nil || r.Version != int64(i) {
				t.Fatalf("1µs before version %d: %+v, %v", i+1, r, err)
			}
		}
	}
	r, err := s.AsOf(ctx, st, times[2].Add(time.Hour))
	if err != nil || r.Version != 3 {
		t.Fatalf("an hour later: %+v, %v", r, err)
	}
}

func TestHistoryPages(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "1"}
	var batch []eventlog.NewRecord
	for i := 1; i <= 25; i++ {
		batch = append(batch, rec(i))
	}
	if _, err := s.Append(ctx, st, batch, nil); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, eventlog.Stream{Type: "order", ID: "2"}, "other")
	for _, newest := range []bool{false, true} {
		var got []int64
		opts := &eventlog.HistoryOpts{NewestFirst: newest, Limit: 10}
		pages := 0
		for {
			p, err := s.History(ctx, st, opts)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, r := range p.Records {
				got = append(got, r.Version)
			}
			if p.Next == 0 {
				break
			}
			opts.After = p.Next
		}
		if pages != 3 || len(got) != 25 {
			t.Fatalf("newest first %v: %d pages, versions %v", newest, pages, got)
		}
		for i, v := range got {
			want := int64(i + 1)
			if newest {
				want = int64(25 - i)
			}
			if v != want {
				t.Fatalf("newest first %v: versions %v", newest, got)
			}
		}
	}
}

// On a long stream AsOf bisects the versions: it answers what a walk back
// from the newest would, at every version's time and between, with a few
// index probes.
func TestAsOfOnALongStream(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "price", ID: "long"}
	const n = 300
	for i := 1; i <= n; i++ {
		mustAppend(t, s, st, i)
	}
	walk := func(at time.Time) int64 {
		var v int64
		err := tb.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND recorded_at <= $3`, st.Type, st.ID, at).Scan(&v)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rows, err := tb.pool.Query(ctx, `SELECT recorded_at FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 ORDER BY version`, st.Type, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			t.Fatal(err)
		}
		times = append(times, at)
	}
	if rows.Err() != nil || len(times) != n {
		t.Fatalf("%d versions read: %v", len(times), rows.Err())
	}
	probes := []time.Time{times[0].Add(-time.Microsecond)}
	for _, at := range times {
		probes = append(probes, at, at.Add(time.Microsecond/2))
	}
	for _, at := range probes {
		want := walk(at)
		r, err := s.AsOf(ctx, st, at)
		switch {
		case want == 0 && !errors.Is(err, eventlog.ErrNotFound):
			t.Fatalf("as of %v, before the stream: %v, want ErrNotFound", at, err)
		case want == 0:
		case err != nil:
			t.Fatal(err)
		case r.Version != want:
			t.Fatalf("as of %v: version %d, want %d", at, r.Version, want)
		}
	}
}
