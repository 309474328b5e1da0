package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogHandler(t *testing.T) {
	t.Parallel()
	tp, _ := newRecorder(t)
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("service", "orders")

	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	logger.InfoContext(ctx, "inside")
	span.End()
	logger.InfoContext(context.Background(), "outside")
	logger.WithGroup("g").InfoContext(ctx, "grouped", "k", "v")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines: %s", len(lines), buf.String())
	}
	var inside, outside map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &inside)
	_ = json.Unmarshal([]byte(lines[1]), &outside)
	sc := span.SpanContext()
	if inside["trace_id"] != sc.TraceID().String() || inside["span_id"] != sc.SpanID().String() {
		t.Errorf("inside a span: %s; want trace_id %s span_id %s", lines[0], sc.TraceID(), sc.SpanID())
	}
	if inside["service"] != "orders" {
		t.Errorf("WithAttrs lost: %s", lines[0])
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("outside a span got a trace_id: %s", lines[1])
	}
	if !strings.Contains(lines[2], `"trace_id":"`+sc.TraceID().String()) {
		t.Errorf("grouped logger lost the trace id: %s", lines[2])
	}
}

func TestLogHandlerDoesNotMutateSharedRecord(t *testing.T) {
	t.Parallel()
	tp, _ := newRecorder(t)
	var a, b bytes.Buffer
	ha := NewLogHandler(slog.NewTextHandler(&a, nil))
	hb := slog.NewTextHandler(&b, nil)
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	rec := slog.NewRecord(time.Time{}, slog.LevelInfo, "shared", 0)
	if err := ha.Handle(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := hb.Handle(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.String(), "trace_id=") || strings.Contains(b.String(), "trace_id=") {
		t.Fatalf("wrapped: %q, plain: %q; the IDs must reach only the wrapped handler", a.String(), b.String())
	}
}
