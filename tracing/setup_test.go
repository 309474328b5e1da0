package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
)

// received collects what an OTLP receiver was sent.
type received struct {
	mu    sync.Mutex
	reqs  []*collectortrace.ExportTraceServiceRequest
	paths []string
}

func (r *received) add(path string, req *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	r.paths = append(r.paths, path)
}

// spans returns every exported span with its resource's attributes.
func (r *received) spans() (spans []*tracepb.Span, resources []map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, req := range r.reqs {
		for _, rs := range req.ResourceSpans {
			res := map[string]string{}
			for _, kv := range rs.GetResource().GetAttributes() {
				res[kv.Key] = kv.Value.GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans = append(spans, s)
					resources = append(resources, res)
				}
			}
		}
	}
	return spans, resources
}

// otlpHTTPReceiver is a real OTLP/HTTP endpoint: it decodes the protobuf
// export requests the SDK's exporter posts to /v1/traces.
func otlpHTTPReceiver(t *testing.T) (*httptest.Server, *received) {
	got := &received{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.add(r.URL.Path, &req)
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

type grpcReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	got *received
}

func (g *grpcReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	g.got.add("grpc", req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func otlpGRPCReceiver(t *testing.T) (addr string, got *received) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got = &received{}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, &grpcReceiver{got: got})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), got
}

// restoreGlobals puts back the global provider and propagator that Setup
// replaces, so tests do not leak into each other.
func restoreGlobals(t *testing.T) {
	prop := otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(prop)
	})
}

// clearOTELEnv unsets the variables a developer's shell might carry.
func clearOTELEnv(t *testing.T) {
	for _, k := range []string{
		"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	} {
		t.Setenv(k, "")
	}
}

// TestSetupExportsFromEnvironmentOnly configures the exporter with nothing
// but environment variables, as a Kubernetes manifest would, and checks that
// a real receiver gets the span with the resource the variables describe.
func TestSetupExportsFromEnvironmentOnly(t *testing.T) {
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			clearOTELEnv(t)
			restoreGlobals(t)
			var got *received
			if proto == "grpc" {
				var addr string
				addr, got = otlpGRPCReceiver(t)
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
			} else {
				var srv *httptest.Server
				srv, got = otlpHTTPReceiver(t)
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
			}
			t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
			t.Setenv("OTEL_SERVICE_NAME", "orders-from-env")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,service.name=overridden")

			ctx := context.Background()
			shutdown, err := Setup(ctx, &Config{ServiceName: "orders-from-code", ServiceVersion: "1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			_, span := Start(ctx, "checkout")
			span.End()
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			_ = shutdown(sctx) // a second call must not panic or block

			spans, res := got.spans()
			if len(spans) != 1 || spans[0].Name != "checkout" {
				t.Fatalf("receiver got %d spans, want the one checkout span", len(spans))
			}
			if proto != "grpc" && got.paths[0] != "/v1/traces" {
				t.Errorf("exported to %s, want /v1/traces", got.paths[0])
			}
			want := map[string]string{
				"service.name":                "orders-from-env", // OTEL_SERVICE_NAME beats both others
				"service.version":             "1.2.3",
				"deployment.environment.name": "staging",
				"telemetry.sdk.language":      "go",
			}
			for k, v := range want {
				if res[0][k] != v {
					t.Errorf("resource %s = %q, want %q", k, res[0][k], v)
				}
			}
			if tid := spans[0].TraceId; len(tid) != 16 || trace.TraceID(tid) == (trace.TraceID{}) {
				t.Errorf("exported trace id %x is not a valid W3C id", tid)
			}
		})
	}
}

func TestSetupShutdownHonoursContext(t *testing.T) {
	clearOTELEnv(t)
	restoreGlobals(t)
	// A receiver that never answers: the flush can only end by the deadline.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)

	ctx := context.Background()
	shutdown, err := Setup(ctx, &Config{ServiceName: "stuck"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := Start(ctx, "never-delivered")
	span.End()
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = shutdown(sctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown = %v, want the context's deadline error", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("shutdown took %v, want it to return at the deadline", waited)
	}
}

func TestSetupDisabled(t *testing.T) {
	clearOTELEnv(t)
	restoreGlobals(t)
	srv, got := otlpHTTPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SDK_DISABLED", "TRUE")
	ctx := context.Background()
	exp := tracetest.NewInMemoryExporter()
	shutdown, err := Setup(ctx, &Config{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	_, span := Start(ctx, "ignored")
	if span.IsRecording() {
		t.Error("span is recording with OTEL_SDK_DISABLED=true")
	}
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if spans, _ := got.spans(); len(spans) != 0 || len(exp.GetSpans()) != 0 {
		t.Fatalf("exported %d spans with the SDK disabled", len(spans)+len(exp.GetSpans()))
	}
	// Propagation still works, so a disabled service does not cut traces.
	fields := otel.GetTextMapPropagator().Fields()
	if len(fields) < 2 {
		t.Errorf("propagator fields %v, want traceparent, tracestate and baggage", fields)
	}
}

func TestSetupSamplerFromEnvironment(t *testing.T) {
	clearOTELEnv(t)
	restoreGlobals(t)
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0")
	ctx := context.Background()
	exp := tracetest.NewInMemoryExporter()
	shutdown, err := Setup(ctx, &Config{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(ctx) }()

	_, root := Start(ctx, "root")
	root.End()
	if root.SpanContext().IsSampled() {
		t.Error("root span sampled with ratio 0")
	}
	// A sampled caller's decision is followed: parent-based sampling.
	carrier := propagation.HeaderCarrier(http.Header{})
	carrier.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	remote := otel.GetTextMapPropagator().Extract(ctx, carrier)
	_, child := Start(remote, "child")
	child.End()
	if !child.SpanContext().IsSampled() {
		t.Error("child of a sampled remote parent was not sampled")
	}
	if got := child.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("child trace id %s, want the caller's", got)
	}
}

func TestSetupRejectsUnknownExporter(t *testing.T) {
	clearOTELEnv(t)
	restoreGlobals(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "carrier-pigeon")
	_, err := Setup(context.Background(), nil)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Setup = %v, want ErrInvalidConfig", err)
	}
}

// TestSetupConsoleAndNoneExporters runs Setup in a child process, because the
// console exporter writes to the process's standard output.
func TestSetupConsoleAndNoneExporters(t *testing.T) {
	for _, name := range []string{"console", "none"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := testchild.Start(t, "setup", nil, "OTEL_TRACES_EXPORTER="+name, "OTEL_SDK_DISABLED=", "OTEL_SERVICE_NAME=")
			if code := c.Wait(30 * time.Second); code != 0 {
				t.Fatalf("child exited with %d:\n%s", code, c.Output())
			}
			out := c.Output()
			printed := strings.Contains(out, `"Name":"printed-span"`)
			if printed != (name == "console") {
				t.Fatalf("OTEL_TRACES_EXPORTER=%s printed the span: %v; output %q", name, printed, out)
			}
			if !strings.Contains(out, setupChildDone) {
				t.Fatalf("child did not finish: %s", out)
			}
		})
	}
}

const setupChildDone = "setup child: done"

// setupChild is the scenario "setup": Setup from the environment, one span,
// shutdown, and no goroutine left behind.
func setupChild([]string) int {
	ctx := context.Background()
	shutdown, err := Setup(ctx, &Config{ServiceName: "console-test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, span := Start(ctx, "printed-span")
	span.End()
	if err := shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(setupChildDone)
	return 0
}
