package tracing

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

func place(ctx context.Context, fail bool) (err error) {
	ctx, span := Start(ctx, "orders.Place", attribute.Int("items", 3))
	defer End(span, &err)
	_ = ctx
	if fail {
		return errors.New("out of stock")
	}
	return nil
}

func TestStartEnd(t *testing.T) {
	t.Parallel()
	tp, rec := newRecorder(t)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")

	t.Run("ReturnedErrorBecomesStatus", func(t *testing.T) {
		if err := place(ctx, true); err == nil {
			t.Fatal("want the error returned unchanged")
		}
	})
	t.Run("SuccessLeavesStatusUnset", func(t *testing.T) {
		if err := place(ctx, false); err != nil {
			t.Fatal(err)
		}
	})
	parent.End()

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("got spans %v, want two children and the parent", spanNames(spans))
	}
	failed, ok := spans[0], spans[1]
	for _, s := range []string{failed.Name(), ok.Name()} {
		if s != "orders.Place" {
			t.Fatalf("span name %q, want orders.Place", s)
		}
	}
	if failed.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("span is not a child of the span in ctx")
	}
	if v, _ := attrOf(failed, "items"); v.AsInt64() != 3 {
		t.Errorf("attribute items = %v, want 3", v)
	}
	if failed.Status().Code != codes.Error || failed.Status().Description != "out of stock" {
		t.Errorf("failed status = %+v, want Error with the message", failed.Status())
	}
	if len(failed.Events()) != 1 || failed.Events()[0].Name != "exception" {
		t.Errorf("failed events = %v, want one exception event", failed.Events())
	}
	if ok.Status().Code != codes.Unset {
		t.Errorf("ok status = %+v, want Unset", ok.Status())
	}
}

func TestEndRecordsAndReraisesPanic(t *testing.T) {
	t.Parallel()
	tp, rec := newRecorder(t)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	defer parent.End()

	var recovered any
	func() {
		defer func() { recovered = recover() }()
		func() (err error) {
			_, span := Start(ctx, "charge")
			defer End(span, &err)
			panic("card reader on fire")
		}()
	}()
	if recovered != "card reader on fire" {
		t.Fatalf("recovered %v, want the original panic value re-raised", recovered)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("got %d ended spans, want the panicking one ended", len(spans))
	}
	s := spans[0]
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "card reader on fire") {
		t.Errorf("status = %+v, want Error naming the panic", s.Status())
	}
	var stack string
	for _, e := range s.Events() {
		for _, kv := range e.Attributes {
			if kv.Key == "exception.stacktrace" {
				stack = kv.Value.AsString()
			}
		}
	}
	if !strings.Contains(stack, "TestEndRecordsAndReraisesPanic") {
		t.Errorf("exception.stacktrace does not show where the panic happened: %q", stack)
	}
}

func TestEndWithNilErrorPointer(t *testing.T) {
	t.Parallel()
	tp, rec := newRecorder(t)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	_, span := Start(ctx, "no-error-tracking")
	End(span, nil)
	parent.End()
	if got := rec.Ended(); len(got) != 2 || got[0].Status().Code != codes.Unset {
		t.Fatalf("got %v, want the span ended with status Unset", spanNames(got))
	}
}
