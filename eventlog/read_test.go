package eventlog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

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

func TestProvenanceIsStored(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "v1.4.2-abc123")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))
	st := eventlog.Stream{Type: "order", ID: "1"}
	_, err := s.Append(ctx, st, []eventlog.NewRecord{{Data: js("x"), Metadata: js(map[string]string{"source": "api"})}},
		&eventlog.AppendOpts{Actor: "alice", Reason: "customer asked"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Latest(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	want := eventlog.Provenance{Writer: "v1.4.2-abc123", TraceID: tid.String(), SpanID: sid.String(), Actor: "alice", Reason: "customer asked"}
	if r.Provenance != want || string(r.Metadata) != `{"source": "api"}` {
		t.Fatalf("provenance %+v metadata %s, want %+v", r.Provenance, r.Metadata, want)
	}
	mustAppend(t, s, st, "y") // no span in the context
	r, _ = s.Latest(context.Background(), st)
	if r.TraceID != "" || r.SpanID != "" || r.Writer != "v1.4.2-abc123" {
		t.Fatalf("without a span: %+v", r.Provenance)
	}
}

func TestDefaultWriterIsNotEmpty(t *testing.T) {
	if w := eventlog.DefaultWriter(); w == "" {
		t.Fatal("DefaultWriter is empty")
	}
}
