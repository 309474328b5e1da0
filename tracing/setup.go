package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ErrInvalidConfig is returned by [Setup] when the environment or the
// [Config] cannot be turned into a tracer provider. The wrapped error names the
// variable or field at fault and what to set.
var ErrInvalidConfig = errors.New("tracing: invalid config")

// Config describes the service whose traces [Setup] exports. A nil *Config
// means every default. The OTEL_* environment variables override it, so
// operators can change a deployed service without a rebuild.
type Config struct {
	// ServiceName is the service.name resource attribute. OTEL_SERVICE_NAME
	// and service.name in OTEL_RESOURCE_ATTRIBUTES take precedence. Defaults
	// to the program's file name.
	ServiceName string
	// ServiceVersion is the service.version resource attribute. Defaults to
	// empty (not set).
	ServiceVersion string
	// Exporter receives finished spans in batches instead of the exporter
	// chosen by OTEL_TRACES_EXPORTER. Tests and examples use it. Defaults to
	// nil: the environment decides (otlp, console or none; otlp when unset).
	Exporter sdktrace.SpanExporter
	// Logger receives the OpenTelemetry SDK's own errors, such as an
	// unreachable collector. Defaults to slog.Default().
	Logger *slog.Logger
}

// Setup installs a global tracer provider and the W3C trace-context and
// baggage propagators, configured from cfg (nil for the defaults) and the
// standard environment:
//
//   - OTEL_SDK_DISABLED=true: no provider is installed (spans are no-ops) and
//     shutdown does nothing; the propagators are still installed so that a
//     traced caller's context flows through to traced callees.
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: resource attributes.
//   - OTEL_TRACES_EXPORTER (otlp, console, none), OTEL_EXPORTER_OTLP_ENDPOINT,
//     OTEL_EXPORTER_OTLP_PROTOCOL (grpc, http/protobuf), headers, timeouts and
//     their _TRACES_ variants: the exporter, through contrib's autoexport.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: the sampler, through the
//     SDK; parentbased_always_on when unset.
//   - OTEL_BSP_*: the batch span processor, through the SDK.
//
// The returned shutdown flushes buffered spans and stops the exporter; it
// returns ctx.Err() if ctx ends first, and is meant to be a graceful stop hook.
// Calling it twice is harmless.
func Setup(ctx context.Context, cfg *Config) (shutdown func(context.Context) error, err error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
	if sdkDisabled() {
		return func(context.Context) error { return nil }, nil
	}

	logger := c.Logger
	if logger == nil {
		logger = slog.Default()
	}
	res, err := newResource(ctx, c)
	if err != nil {
		return nil, err
	}
	exp := c.Exporter
	if exp == nil {
		exp, err = autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_*: %w (use otlp, console or none, and grpc or http/protobuf)", ErrInvalidConfig, err)
		}
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if !autoexport.IsNoneSpanExporter(exp) {
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: OpenTelemetry error", "err", err)
	}))
	otel.SetTracerProvider(tp)
	return func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("tracing: flushing spans: %w", err)
		}
		return nil
	}, nil
}

// sdkDisabled reads OTEL_SDK_DISABLED, the one standard variable that neither
// the SDK nor autoexport honours in Go. Only "true" (any case) disables, as the
// specification says.
func sdkDisabled() bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true")
}

// newResource layers the environment over cfg: later options win in
// resource.New, and an operator's OTEL_SERVICE_NAME should beat the compiled-in
// name.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = programName()
	}
	attrs := []resource.Option{
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	}
	own := resource.WithAttributes(semconv.ServiceName(name))
	if cfg.ServiceVersion != "" {
		own = resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(cfg.ServiceVersion))
	}
	attrs = append(attrs, own, resource.WithFromEnv())
	res, err := resource.New(ctx, attrs...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("%w: OTEL_RESOURCE_ATTRIBUTES: %w (use key1=value1,key2=value2 with URL-encoded values)", ErrInvalidConfig, err)
	}
	return res, nil
}

func programName() string {
	if len(os.Args) == 0 || os.Args[0] == "" {
		return "unknown_service:go"
	}
	name := os.Args[0]
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return name
}
