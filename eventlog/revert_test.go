package eventlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func TestRevertAppendsACopyOfTheOldVersion(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	st := eventlog.Stream{Type: "order", ID: "1"}
	for _, v := range []string{"placed", "paid", "lost"} {
		mustAppend(t, s, st, map[string]string{"state": v})
	}
	dry, err := s.Revert(ctx, st, 2, &eventlog.RevertOpts{DryRun: true})
	if err != nil || !dry.DryRun || dry.Version != 4 || dry.From != 3 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if n := count(t, tb, ""); n != 3 {
		t.Fatalf("dry run wrote: %d records", n)
	}
	res, err := s.Revert(ctx, st, 2, &eventlog.RevertOpts{Expected: eventlog.Exactly(3), Actor: "ops", Reason: "lost by bug 12"})
	if err != nil || res.Version != 4 || res.To != 2 || res.From != 3 {
		t.Fatalf("revert: %+v, %v", res, err)
	}
	r, err := s.Latest(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]map[string]int64
	json.Unmarshal(r.Metadata, &meta)
	if dataOf(t, r) != "map[state:paid]" || !r.IsRevert || r.RevertOf != 2 || r.Actor != "ops" ||
		meta["eventlog_revert"]["to_version"] != 2 || meta["eventlog_revert"]["from_version"] != 3 {
		t.Fatalf("revert record: %+v metadata %s", r, r.Metadata)
	}
	if old, _ := s.Version(ctx, st, 3); dataOf(t, old) != "map[state:lost]" {
		t.Fatal("the reverted version is no longer readable")
	}
	if _, err := s.Revert(ctx, st, 1, &eventlog.RevertOpts{Expected: eventlog.Exactly(3)}); !errors.Is(err, eventlog.ErrVersionConflict) {
		t.Fatalf("stale revert: %v, want a conflict", err)
	}
	if _, err := s.Revert(ctx, st, 9, nil); !errors.Is(err, eventlog.ErrNotFound) {
		t.Fatalf("revert to a future version: %v", err)
	}
	gone, err := s.Revert(ctx, st, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = s.Latest(ctx, st)
	if string(r.Data) != "null" || r.RevertOf != 0 || !r.IsRevert || gone.Version != 5 {
		t.Fatalf("revert to 0: %+v", r)
	}
}

// TestRevertWriterWithInterleavedWriters: build "good" and build "bad"
// write the same streams in turns; reverting "bad" restores what it
// overwrote and leaves alone streams "good" changed after it.
func TestRevertWriterWithInterleavedWriters(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	good := newStore(t, tb, "good")
	bad := newStore(t, tb, "bad")
	ops := newStore(t, tb, "seatbelt-cli")
	ctx := context.Background()
	s := func(id string) eventlog.Stream { return eventlog.Stream{Type: "order", ID: id} }

	mustAppend(t, bad, s("early"), "bad before the window")
	mustAppend(t, good, s("1"), "g1")
	time.Sleep(5 * time.Millisecond)
	var since time.Time
	tb.pool.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&since)
	time.Sleep(5 * time.Millisecond)
	mustAppend(t, bad, s("early"), "bad in the window")
	mustAppend(t, bad, s("1"), "b2")  // 1: good, bad, bad
	mustAppend(t, good, s("3"), "g1") // 3: good, bad, good
	mustAppend(t, bad, s("2"), "b1")  // 2: created by bad
	mustAppend(t, bad, s("3"), "b2")  //
	mustAppend(t, good, s("4"), "g1") // 4: good only
	mustAppend(t, bad, s("1"), "b3")  //
	mustAppend(t, good, s("3"), "g3") //
	mustAppend(t, bad, s("2"), "b2")  //

	changes, err := ops.WriterChanges(ctx, "bad", since, nil)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, c := range changes {
		listed = append(listed, c.Stream.ID)
	}
	if strings.Join(listed, ",") != "1,2,3,early" {
		t.Fatalf("streams changed by bad: %v", listed)
	}

	dry, err := ops.RevertWriter(ctx, "bad", since, &eventlog.RevertWriterOpts{DryRun: true})
	if err != nil || dry.Reverted() != 3 || count(t, tb, "") != 11 {
		t.Fatalf("dry run: %+v, %v, %d records", dry, err, count(t, tb, ""))
	}

	rep, err := ops.RevertWriter(ctx, "bad", since, &eventlog.RevertWriterOpts{Actor: "oncall"})
	if err != nil {
		t.Fatal(err)
	}
	skipped := rep.SkippedStreams()
	if rep.Reverted() != 3 || len(skipped) != 1 || skipped[0].Stream.ID != "3" || !strings.Contains(skipped[0].Skipped, "good") {
		t.Fatalf("report: %+v", rep)
	}
	want := map[string]string{"1": "g1", "2": "<nil>", "early": "bad before the window", "3": "g3", "4": "g1"}
	for id, data := range want {
		r, err := ops.Latest(ctx, s(id))
		if err != nil {
			t.Fatal(err)
		}
		var v any
		json.Unmarshal(r.Data, &v)
		if got := fmtAny(v); got != data {
			t.Errorf("stream %s after revert: %q, want %q", id, got, data)
		}
	}
	if r, _ := ops.Latest(ctx, s("1")); r.Writer != "seatbelt-cli" || r.Actor != "oncall" || !strings.Contains(r.Reason, "revert writer bad") || r.RevertOf != 1 {
		t.Errorf("revert record of stream 1: %+v", r)
	}

	// Again: nothing left to do but the skipped stream.
	again, err := ops.RevertWriter(ctx, "bad", since, nil)
	if err != nil || again.Reverted() != 0 || len(again.SkippedStreams()) != 4 {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	before := count(t, tb, "")
	forced, err := ops.RevertWriter(ctx, "bad", since, &eventlog.RevertWriterOpts{Force: true})
	if err != nil || forced.Reverted() != 1 || count(t, tb, "") != before+1 {
		t.Fatalf("forced: %+v, %v", forced, err)
	}
	if r, _ := ops.Latest(ctx, s("3")); fmtAny(mustData(t, r)) != "g1" {
		t.Fatalf("stream 3 after force: %s", r.Data)
	}
}

func mustData(t *testing.T, r *eventlog.Record) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func fmtAny(v any) string {
	if v == nil {
		return "<nil>"
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// A revert confirmed from a dry run (Seen: the report's At) does no more
// than the dry run showed: a stream written after it, by the bad writer
// or anyone, is skipped as changed since.
func TestRevertWriterSeenSkipsWhatChangedSinceThePreview(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	good := newStore(t, tb, "good")
	bad := newStore(t, tb, "bad")
	ops := newStore(t, tb, "seatbelt-cli")
	ctx := context.Background()
	s := func(id string) eventlog.Stream { return eventlog.Stream{Type: "order", ID: id} }
	since := time.Now().Add(-time.Hour)

	mustAppend(t, bad, s("shown"), "b1")
	mustAppend(t, bad, s("moved"), "b1")
	preview, err := ops.RevertWriter(ctx, "bad", since, &eventlog.RevertWriterOpts{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if preview.Reverted() != 2 || preview.At.IsZero() {
		t.Fatalf("the preview would revert %d streams (at %v), want 2", preview.Reverted(), preview.At)
	}
	time.Sleep(5 * time.Millisecond)
	mustAppend(t, good, s("moved"), "g2") // another writer, after the preview
	mustAppend(t, bad, s("unseen"), "b1") // the bad build, after the preview

	rep, err := ops.RevertWriter(ctx, "bad", since, &eventlog.RevertWriterOpts{Force: true, Seen: preview.At})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sr := range rep.Streams {
		got[sr.Stream.ID] = sr.Skipped
	}
	if got["shown"] != "" || !strings.Contains(got["moved"], "changed since the preview") || !strings.Contains(got["unseen"], "changed since the preview") {
		t.Fatalf("outcomes %q: want shown reverted, moved and unseen skipped as changed since the preview", got)
	}
	if rep.Reverted() != 1 {
		t.Fatalf("reverted %d streams, want 1", rep.Reverted())
	}
}

func TestWriterChangesLimit(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	bad := newStore(t, tb, "bad")
	ctx := context.Background()
	for _, id := range []string{"c", "a", "d", "b"} {
		mustAppend(t, bad, eventlog.Stream{Type: "order", ID: id}, id)
	}
	changes, err := bad.WriterChanges(ctx, "bad", time.Now().Add(-time.Hour), &eventlog.WriterChangesOpts{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Stream.ID != "a" || changes[1].Stream.ID != "b" {
		t.Fatalf("the first 2 streams by name: %+v", changes)
	}
}
