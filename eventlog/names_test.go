package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func FuzzParseStream(f *testing.F) {
	for _, s := range []string{"order/42", "order/eu/42", "order", "/42", "order/", "", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := eventlog.ParseStream(s)
		if err != nil {
			if !errors.Is(err, eventlog.ErrBadStream) {
				t.Fatalf("%q: error %v does not wrap ErrBadStream", s, err)
			}
			return
		}
		if st.Type == "" || st.ID == "" || strings.Contains(st.Type, "/") || st.String() != s {
			t.Fatalf("%q parsed as %#v", s, st)
		}
	})
}

// Names the database cannot index are refused before they reach it, by
// every entry point, with an error that names the limit.
func TestOverlongOrMalformedNamesGetAClearError(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	ctx := context.Background()
	long := incompressible(10 << 10)
	entryPoints := map[string]func(st eventlog.Stream) error{
		"Append": func(st eventlog.Stream) error {
			_, err := s.Append(ctx, st, []eventlog.NewRecord{rec(1)}, nil)
			return err
		},
		"AppendTx": func(st eventlog.Stream) error {
			tx, err := tb.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			_, err = s.AppendTx(ctx, tx, st, []eventlog.NewRecord{rec(1)}, nil)
			return err
		},
		"Latest":  func(st eventlog.Stream) error { _, err := s.Latest(ctx, st); return err },
		"Version": func(st eventlog.Stream) error { _, err := s.Version(ctx, st, 1); return err },
		"AsOf":    func(st eventlog.Stream) error { _, err := s.AsOf(ctx, st, time.Now()); return err },
		"History": func(st eventlog.Stream) error { _, err := s.History(ctx, st, nil); return err },
		"Revert":  func(st eventlog.Stream) error { _, err := s.Revert(ctx, st, 0, nil); return err },
		"ParseStream": func(st eventlog.Stream) error {
			_, err := eventlog.ParseStream(st.String())
			return err
		},
	}
	for _, c := range []struct {
		name   string
		stream eventlog.Stream
		want   string
	}{
		{"LongID", eventlog.Stream{Type: "order", ID: long}, fmt.Sprintf("Stream.ID is 10240 bytes; the limit is %d", eventlog.MaxStreamIDLen)},
		{"LongType", eventlog.Stream{Type: long, ID: "1"}, fmt.Sprintf("Stream.Type is 10240 bytes; the limit is %d", eventlog.MaxStreamTypeLen)},
		{"NUL", eventlog.Stream{Type: "order", ID: "4\x002"}, "Stream.ID contains a NUL byte"},
		{"BadUTF8", eventlog.Stream{Type: "order\xff", ID: "42"}, "Stream.Type is not valid UTF-8"},
	} {
		for name, call := range entryPoints {
			err := call(c.stream)
			if !errors.Is(err, eventlog.ErrBadStream) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %s: %v, want ErrBadStream saying %q", c.name, name, err, c.want)
			}
		}
	}
	_, err := s.Append(ctx, eventlog.Stream{Type: "order", ID: "1"}, []eventlog.NewRecord{{ID: long, Data: js(1)}}, nil)
	if !errors.Is(err, eventlog.ErrBadRecord) || !strings.Contains(err.Error(), fmt.Sprint(eventlog.MaxRecordIDLen)) {
		t.Errorf("long record id: %v, want ErrBadRecord naming the limit", err)
	}
	_, err = s.NewConsumer(long, func(context.Context, pgx.Tx, *eventlog.Record) error { return nil }, nil)
	if !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), fmt.Sprint(eventlog.MaxConsumerNameLen)) {
		t.Errorf("long consumer name: %v, want ErrInvalidConfig naming the limit", err)
	}
	if n := count(t, tb, ""); n != 0 {
		t.Fatalf("%d records written", n)
	}
	// At the limits, everything works.
	st := eventlog.Stream{Type: strings.Repeat("t", eventlog.MaxStreamTypeLen), ID: strings.Repeat("é", eventlog.MaxStreamIDLen/2)}
	if _, err := s.Append(ctx, st, []eventlog.NewRecord{{ID: strings.Repeat("r", eventlog.MaxRecordIDLen), Data: js(1)}}, nil); err != nil {
		t.Fatalf("append at the limits: %v", err)
	}
	if r, err := s.Latest(ctx, st); err != nil || r.Stream != st {
		t.Fatalf("latest at the limits: %+v, %v", r, err)
	}
}

// incompressible returns n bytes of letters that PostgreSQL cannot
// compress, so they reach an index at full length.
func incompressible(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(r.IntN(26))
	}
	return string(b)
}
