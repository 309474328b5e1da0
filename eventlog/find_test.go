package eventlog_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func TestFindStreamReadsEverySlash(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	st := newStore(t, tb, "w")
	ctx := context.Background()
	find := func(name string) (eventlog.Stream, error) {
		t.Helper()
		return st.FindStream(ctx, name)
	}
	// Nothing in the log: the first reading, which a read reports not found.
	if got, err := find("billing/invoice/1"); err != nil || got != (eventlog.Stream{Type: "billing", ID: "invoice/1"}) {
		t.Fatalf("an empty log: %v, %v; want the first reading", got, err)
	}
	slashed := eventlog.Stream{Type: "billing/invoice", ID: "1"}
	mustAppend(t, st, slashed, 1)
	if got, err := find("billing/invoice/1"); err != nil || got != slashed {
		t.Fatalf("with only %s in the log: %v, %v", slashed, got, err)
	}
	plain := eventlog.Stream{Type: "billing", ID: "invoice/1"}
	mustAppend(t, st, plain, 1)
	_, err := find("billing/invoice/1")
	amb, ok := errors.AsType[*eventlog.AmbiguousStreamError](err)
	if !ok || len(amb.Streams) != 2 || amb.Streams[0] != plain || amb.Streams[1] != slashed {
		t.Fatalf("with both in the log: %v; want an AmbiguousStreamError naming %s then %s", err, plain, slashed)
	}
	for _, bad := range []string{"billing", "/1", "billing/", "a/\x00"} {
		if _, err := find(bad); !errors.Is(err, eventlog.ErrBadStream) {
			t.Errorf("%q: %v, want ErrBadStream", bad, err)
		}
	}
	// A type over MaxStreamTypeLen is not a reading; the id may be long.
	long := strings.Repeat("x", eventlog.MaxStreamTypeLen+1)
	if got, err := find("t/" + long + "/1"); err != nil || got.Type != "t" {
		t.Fatalf("a long second part: %v, %v; want type t", got, err)
	}
	if err := (eventlog.Stream{Type: "a/b", ID: "1"}).Check(); err != nil {
		t.Fatalf("Check of a type holding a slash: %v", err)
	}
	if err := (eventlog.Stream{Type: "a"}).Check(); !errors.Is(err, eventlog.ErrBadStream) {
		t.Fatalf("Check of a stream without an id: %v", err)
	}
}
