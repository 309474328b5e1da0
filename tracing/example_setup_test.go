package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/seatbelt-go/seatbelt/tracing"
)

// printer is a span exporter that prints each span's name and status.
type printer struct{}

func (printer) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		svc, _ := s.Resource().Set().Value("service.name")
		fmt.Println(strings.TrimSpace(fmt.Sprintln(svc.AsString(), s.Name(), s.Status().Code, s.Status().Description)))
	}
	return nil
}

func (printer) Shutdown(context.Context) error { return nil }

// A service calls Setup once in main and registers the shutdown as a stop
// hook. In production leave Config.Exporter nil: OTEL_EXPORTER_OTLP_ENDPOINT
// and friends choose where the spans go. Here a printing exporter shows them.
func ExampleSetup() {
	ctx := context.Background()
	shutdown, err := tracing.Setup(ctx, &tracing.Config{ServiceName: "orders", ServiceVersion: "1.4.2", Exporter: printer{}})
	if err != nil {
		fmt.Println(err)
		return
	}

	_, span := tracing.Start(ctx, "startup")
	span.End()

	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := shutdown(stopCtx); err != nil { // flushes the batch
		fmt.Println(err)
	}
	// Output: orders startup Unset
}

var errOutOfStock = errors.New("out of stock")

func placeOrder(ctx context.Context, sku string) (err error) {
	ctx, span := tracing.Start(ctx, "orders.Place")
	defer tracing.End(span, &err)

	_ = ctx // pass ctx on, so database and HTTP spans become children
	if sku == "sold-out" {
		return errOutOfStock
	}
	return nil
}

// Start and a deferred End trace a critical function in two lines; the
// returned error (or a panic) becomes the span's status.
func ExampleStart() {
	ctx := context.Background()
	shutdown, _ := tracing.Setup(ctx, &tracing.Config{ServiceName: "orders", Exporter: printer{}})

	_ = placeOrder(ctx, "book")
	_ = placeOrder(ctx, "sold-out")

	_ = shutdown(ctx)
	// Output:
	// orders orders.Place Unset
	// orders orders.Place Error out of stock
}
