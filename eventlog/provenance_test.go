package eventlog_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

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

// Every way an append is written stores the whole row, each record with its
// own append's provenance: alone (one record, or several), in the caller's
// transaction, and shared with other appends in one statement.
func TestEveryAppendPathStoresTheWholeRow(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "build-7")
	ctx := context.Background()
	type stored struct {
		prov eventlog.Provenance
		data string
		meta string
	}
	var mu sync.Mutex
	want := map[string]stored{} // by record id
	var calls atomic.Uint64
	// appendAs appends records to st (in tx if set) with data, metadata
	// and provenance that name the call.
	appendAs := func(st eventlog.Stream, records int, tx pgx.Tx) error {
		k := calls.Add(1)
		var tid trace.TraceID
		var sid trace.SpanID
		binary.BigEndian.PutUint64(tid[8:], k)
		binary.BigEndian.PutUint64(sid[:], k)
		ctx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
		p := eventlog.Provenance{Writer: "build-7", TraceID: tid.String(), SpanID: sid.String(),
			Actor: fmt.Sprint("actor-", k), Reason: fmt.Sprint("reason-", k)}
		recs := make([]eventlog.NewRecord, records)
		mu.Lock()
		for i := range recs {
			// Written as jsonb prints it, so the text compares.
			w := stored{prov: p, data: fmt.Sprintf(`{"i": %d, "call": %d}`, i, k), meta: fmt.Sprintf(`{"m": %d}`, k)}
			recs[i] = eventlog.NewRecord{ID: fmt.Sprintf("call-%d-%d", k, i), Data: json.RawMessage(w.data), Metadata: json.RawMessage(w.meta)}
			want[recs[i].ID] = w
		}
		mu.Unlock()
		opts := &eventlog.AppendOpts{Actor: p.Actor, Reason: p.Reason}
		var err error
		if tx != nil {
			_, err = s.AppendTx(ctx, tx, st, recs, opts)
		} else {
			_, err = s.Append(ctx, st, recs, opts)
		}
		return err
	}

	if err := appendAs(eventlog.Stream{Type: "alone", ID: "one"}, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := appendAs(eventlog.Stream{Type: "alone", ID: "several"}, 3, nil); err != nil {
		t.Fatal(err)
	}
	tx, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := appendAs(eventlog.Stream{Type: "tx", ID: "1"}, 2, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := appendAs(eventlog.Stream{Type: "shared", ID: fmt.Sprint(w)}, 1+i%2, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	rows, err := tb.pool.Query(ctx, `SELECT record_id, data::text, metadata::text, writer, trace_id, span_id, actor, reason, revert_of IS NULL
		FROM eventlog_records`)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	var id string
	var got stored
	var notRevert bool
	_, err = pgx.ForEachRow(rows, []any{&id, &got.data, &got.meta, &got.prov.Writer, &got.prov.TraceID, &got.prov.SpanID,
		&got.prov.Actor, &got.prov.Reason, &notRevert}, func() error {
		seen++
		if w, ok := want[id]; !ok || got != w || !notRevert {
			return fmt.Errorf("record %s stored %+v (not a revert: %v), want %+v", id, got, notRevert, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Fatalf("%d records stored, %d appended", seen, len(want))
	}
	var xids int
	if err := tb.pool.QueryRow(ctx, `SELECT count(DISTINCT xid) FROM eventlog_records WHERE stream_type = 'shared'`).Scan(&xids); err != nil {
		t.Fatal(err)
	}
	if xids >= writers*each {
		t.Fatalf("%d concurrent appends took %d transactions: none went through a shared statement", writers*each, xids)
	}
}
