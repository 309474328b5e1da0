package tracing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// QueryObserver receives the duration of every database call a [PgxTracer]
// sees, whether or not it recorded a span. The metrics package's query
// histogram implements it, so one tracer value feeds both.
//
// operation is a bounded keyword such as "SELECT", "INSERT", "BATCH", "COPY"
// or "CONNECT" ("OTHER" for anything unrecognised). err is nil for success and
// for [pgx.ErrNoRows].
type QueryObserver interface {
	ObserveQuery(ctx context.Context, operation string, elapsed time.Duration, err error)
}

// PgxConfig configures a [PgxTracer]. A nil *PgxConfig means every default.
type PgxConfig struct {
	// TracerProvider starts the spans. Defaults to otel.GetTracerProvider(),
	// the global provider that [Setup] installs, looked up on each call so
	// that a provider installed after the tracer was built is used. The spans
	// join the trace of the span in the query's context either way.
	TracerProvider trace.TracerProvider
	// IncludeArgs records the query arguments as db.query.parameter.<n>
	// attributes. They may hold personal data: opt in with care. Defaults to
	// false.
	IncludeArgs bool
	// OmitQueryText leaves out the db.query.text attribute (the SQL with its
	// $n placeholders). Set it if the service builds SQL with literals that
	// must not leave the process. Defaults to false (the text is recorded).
	OmitQueryText bool
	// Observer receives every call's operation, duration and error. Defaults
	// to nil (none).
	Observer QueryObserver
}

// PgxTracer traces pgx queries, batches, COPY FROM and connects. Set it as
// the Tracer of a pgx.ConnConfig (for a pool, of pgxpool.Config.ConnConfig).
//
// It only starts a span when the context already carries one (an HTTP
// request's, a job's, a [Start]ed one), so background pool activity never
// creates root spans. Spans are client spans named "OPERATION table" (or
// "OPERATION namespace"), never the SQL itself, and carry
// db.system.name=postgresql, db.namespace, db.operation.name,
// db.collection.name, server.address and server.port. A PostgreSQL error sets
// the error status, error.type and db.response.status_code to its SQLSTATE;
// [pgx.ErrNoRows] is not an error.
type PgxTracer struct {
	cfg    PgxConfig
	tracer trace.Tracer // nil: the global provider's, looked up per call
}

var (
	_ pgx.QueryTracer    = (*PgxTracer)(nil)
	_ pgx.BatchTracer    = (*PgxTracer)(nil)
	_ pgx.CopyFromTracer = (*PgxTracer)(nil)
	_ pgx.ConnectTracer  = (*PgxTracer)(nil)
)

// NewPgxTracer returns a tracer configured by cfg (nil for the defaults).
func NewPgxTracer(cfg *PgxConfig) *PgxTracer {
	t := &PgxTracer{}
	if cfg != nil {
		t.cfg = *cfg
	}
	if t.cfg.TracerProvider != nil {
		t.tracer = t.cfg.TracerProvider.Tracer(ScopeName)
	}
	return t
}

type callKey struct{}

// call is what a Trace*Start hands to its Trace*End through the context.
type call struct {
	start     time.Time
	operation string
	span      trace.Span // nil when no span was started
}

func (t *PgxTracer) begin(ctx context.Context, conn *pgx.Conn, cfg *pgx.ConnConfig, operation, table string, attrs ...attribute.KeyValue) (context.Context, *call) {
	c := &call{start: time.Now(), operation: operation}
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return context.WithValue(ctx, callKey{}, c), c // children only: no span
	}
	name := operation
	if table != "" {
		name += " " + table
	}
	tracer := t.tracer
	if tracer == nil {
		tracer = globalTracer()
	}
	ctx, c.span = tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	if c.span.IsRecording() {
		if cfg == nil && conn != nil {
			cfg = conn.Config() // a copy: only paid for recorded spans
		}
		all := make([]attribute.KeyValue, 0, 6+len(attrs))
		all = append(all, semconv.DBSystemNamePostgreSQL, semconv.DBOperationName(operation))
		if table != "" {
			all = append(all, semconv.DBCollectionName(table))
		}
		if cfg != nil {
			if table == "" && cfg.Database != "" {
				c.span.SetName(operation + " " + cfg.Database)
			}
			all = append(all, semconv.DBNamespace(cfg.Database), semconv.ServerAddress(cfg.Host), semconv.ServerPort(int(cfg.Port)))
		}
		c.span.SetAttributes(append(all, attrs...)...)
	}
	return context.WithValue(ctx, callKey{}, c), c
}

func (t *PgxTracer) finish(ctx context.Context, err error) {
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok {
		return
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	if t.cfg.Observer != nil {
		t.cfg.Observer.ObserveQuery(ctx, c.operation, time.Since(c.start), err)
	}
	if c.span != nil {
		recordDBError(c.span, err)
		c.span.End()
	}
}

func recordDBError(span trace.Span, err error) {
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code), semconv.ErrorTypeKey.String(pgErr.Code))
	} else {
		span.SetAttributes(semconv.ErrorTypeKey.String(fmt.Sprintf("%T", err)))
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

func (t *PgxTracer) queryAttrs(sql string, args []any) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if !t.cfg.OmitQueryText {
		attrs = append(attrs, semconv.DBQueryText(sql))
	}
	if t.cfg.IncludeArgs {
		for i, a := range args {
			attrs = append(attrs, semconv.DBQueryParameter(strconv.Itoa(i), fmt.Sprint(a)))
		}
	}
	return attrs
}

// TraceQueryStart implements [pgx.QueryTracer].
func (t *PgxTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	op, table := summarize(data.SQL)
	ctx, c := t.begin(ctx, conn, nil, op, table)
	if c.span != nil && c.span.IsRecording() {
		c.span.SetAttributes(t.queryAttrs(data.SQL, data.Args)...)
	}
	return ctx
}

// TraceQueryEnd implements [pgx.QueryTracer].
func (t *PgxTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	t.finish(ctx, data.Err)
}

// TraceBatchStart implements [pgx.BatchTracer]. The batch is one span named
// "BATCH"; its queries' errors are recorded on it.
func (t *PgxTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	var attrs []attribute.KeyValue
	if data.Batch != nil {
		attrs = append(attrs, semconv.DBOperationBatchSize(data.Batch.Len()))
	}
	ctx, _ = t.begin(ctx, conn, nil, "BATCH", "", attrs...)
	return ctx
}

// TraceBatchQuery implements [pgx.BatchTracer].
func (t *PgxTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok || c.span == nil || !c.span.IsRecording() {
		return
	}
	op, table := summarize(data.SQL)
	attrs := []attribute.KeyValue{semconv.DBOperationName(op)}
	if table != "" {
		attrs = append(attrs, semconv.DBCollectionName(table))
	}
	attrs = append(attrs, t.queryAttrs(data.SQL, data.Args)...)
	c.span.AddEvent("query", trace.WithAttributes(attrs...))
	recordDBError(c.span, data.Err)
}

// TraceBatchEnd implements [pgx.BatchTracer].
func (t *PgxTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	t.finish(ctx, data.Err)
}

// TraceCopyFromStart implements [pgx.CopyFromTracer].
func (t *PgxTracer) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	ctx, _ = t.begin(ctx, conn, nil, "COPY", strings.Join(data.TableName, "."))
	return ctx
}

// TraceCopyFromEnd implements [pgx.CopyFromTracer].
func (t *PgxTracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	if c, ok := ctx.Value(callKey{}).(*call); ok && c.span != nil && data.Err == nil {
		c.span.SetAttributes(semconv.DBResponseReturnedRows(int(data.CommandTag.RowsAffected())))
	}
	t.finish(ctx, data.Err)
}

// TraceConnectStart implements [pgx.ConnectTracer].
func (t *PgxTracer) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	ctx, _ = t.begin(ctx, nil, data.ConnConfig, "CONNECT", "")
	return ctx
}

// TraceConnectEnd implements [pgx.ConnectTracer].
func (t *PgxTracer) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	t.finish(ctx, data.Err)
}
