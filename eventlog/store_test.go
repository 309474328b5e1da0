package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// Every configuration error matches ErrInvalidConfig, names what is wrong
// and says what to give instead.
func TestConfigErrorsNameTheFieldAndTheFix(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	s := newStore(t, tb, "b")
	h := func(context.Context, pgx.Tx, *eventlog.Record) error { return nil }
	consumer := func(cfg eventlog.ConsumerConfig) func() error {
		return func() error { _, err := s.NewConsumer("c", h, &cfg); return err }
	}
	for _, c := range []struct {
		name string
		err  func() error
		want []string
	}{
		{"NilPool", func() error { _, err := eventlog.New(nil, nil); return err },
			[]string{"the pool is nil", "pass the *pgxpool.Pool"}},
		{"NegativeNotifyInterval", func() error {
			_, err := eventlog.New(tb.pool, &eventlog.Config{NotifyInterval: -time.Millisecond})
			return err
		}, []string{"Config.NotifyInterval is -1ms", "or 0 for the default (5ms)"}},
		{"HandMadeDirect", func() error {
			_, err := eventlog.New(tb.pool, &eventlog.Config{Direct: &pgx.ConnConfig{}})
			return err
		}, []string{"Config.Direct was not made by pgx.ParseConfig", "pgx.ParseConfig(os.Getenv"}},
		{"EmptyConsumerName", func() error { _, err := s.NewConsumer("", h, nil); return err },
			[]string{"the consumer name is empty", "name it for what its handler does"}},
		{"ConsumerNameTooLong", func() error {
			_, err := s.NewConsumer(strings.Repeat("c", eventlog.MaxConsumerNameLen+1), h, nil)
			return err
		}, []string{"the limit is 256 (eventlog.MaxConsumerNameLen)", "use a shorter name"}},
		{"ConsumerNameWithNUL", func() error { _, err := s.NewConsumer("c\x00", h, nil); return err },
			[]string{"the consumer name contains a NUL byte", "leave it out"}},
		{"NoHandler", func() error { _, err := s.NewConsumer("c", nil, nil); return err },
			[]string{`consumer "c" has no handler`, "pass the Handler"}},
		{"NegativePollInterval", consumer(eventlog.ConsumerConfig{PollInterval: -time.Second}),
			[]string{"ConsumerConfig.PollInterval is -1s", "or 0 for the default (1s, or 100ms without a session)"}},
		{"NegativeTakeoverPoll", consumer(eventlog.ConsumerConfig{TakeoverPoll: -time.Second}),
			[]string{"ConsumerConfig.TakeoverPoll is -1s", "or 0 for the default (1s)"}},
		{"NegativeBackoff", consumer(eventlog.ConsumerConfig{Backoff: -time.Second}),
			[]string{"ConsumerConfig.Backoff is -1s", "or 0 for the default (100ms)"}},
		{"NegativeMaxBackoff", consumer(eventlog.ConsumerConfig{MaxBackoff: -time.Second}),
			[]string{"ConsumerConfig.MaxBackoff is -1s", "or 0 for the default (10s)"}},
		{"NegativeBatchSize", consumer(eventlog.ConsumerConfig{BatchSize: -1}),
			[]string{"ConsumerConfig.BatchSize is -1", "or 0 for the default (500)"}},
		// A batch is held in memory: a slipped size must be refused here,
		// not crash the process when its first batch allocates.
		{"BatchSizeOverTheBound", consumer(eventlog.ConsumerConfig{BatchSize: 1 << 40}),
			[]string{"ConsumerConfig.BatchSize is 1099511627776", "use 1 to 100000, or 0 for the default (500)"}},
		{"BatchSizeMaxInt", consumer(eventlog.ConsumerConfig{BatchSize: math.MaxInt}),
			[]string{"ConsumerConfig.BatchSize is 9223372036854775807", "use 1 to 100000"}},
		{"GroupBatchSizeOverTheBound", func() error {
			_, err := s.NewGroup("g", 4, h, &eventlog.ConsumerConfig{BatchSize: 100001})
			return err
		}, []string{"ConsumerConfig.BatchSize is 100001", "use 1 to 100000"}},
		{"NegativeMaxAttempts", consumer(eventlog.ConsumerConfig{MaxAttempts: -1}),
			[]string{"ConsumerConfig.MaxAttempts is -1", "or 0 for the default (5)"}},
		{"EmptyWriterToRevert", func() error {
			_, err := s.RevertWriter(context.Background(), "", time.Now(), nil)
			return err
		}, []string{"the writer to revert is empty", "give the writer stored on the bad build's records"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if !errors.Is(err, eventlog.ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

func TestTracerProviderGetsAppendAndConsumerSpans(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tb := newDB(t)
	s, err := eventlog.New(tb.pool, &eventlog.Config{Writer: "b", Logger: quietLogger(), TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	st := eventlog.Stream{Type: "order", ID: "1"}
	mustAppend(t, s, st, "placed")

	c, err := s.NewConsumer("c", func(context.Context, pgx.Tx, *eventlog.Record) error { return nil },
		&eventlog.ConsumerConfig{Logger: quietLogger(), PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		sts, err := s.Consumers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) == 1 && sts[0].Handled == 1 {
			break // the batch committed
		}
		if time.Now().After(deadline) {
			t.Fatalf("the record was not handled: %+v", sts)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			m[kv.Key] = kv.Value
		}
		return m
	}
	var appended, consumed bool
	for _, sp := range spans.Ended() {
		if got := sp.InstrumentationScope().Name; got != "github.com/seatbelt-go/seatbelt/eventlog" {
			t.Errorf("span %q from tracer %q, want the package's import path", sp.Name(), got)
		}
		a := attrs(sp)
		switch sp.Name() {
		case "eventlog.append":
			appended = a["eventlog.stream"].AsString() == "order/1" && a["eventlog.records"].AsInt64() == 1
		case "eventlog.consume":
			consumed = consumed || (a["eventlog.consumer"].AsString() == "c" && a["eventlog.records"].AsInt64() == 1)
		}
	}
	if !appended || !consumed {
		var seen []string
		for _, sp := range spans.Ended() {
			seen = append(seen, fmt.Sprintf("%s %v %v", sp.Name(), sp.Attributes(), sp.Status()))
		}
		t.Fatalf("append span %v, consume span with the record %v; spans:\n%s", appended, consumed, strings.Join(seen, "\n"))
	}
}
