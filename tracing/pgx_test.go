package tracing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type observed struct {
	operation string
	elapsed   time.Duration
	err       error
}

type observer struct {
	mu    sync.Mutex
	calls []observed
}

func (o *observer) ObserveQuery(_ context.Context, operation string, elapsed time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, observed{operation, elapsed, err})
}

func (o *observer) take() []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.calls
	o.calls = nil
	return c
}

type pgxBundle struct {
	conn   *pgx.Conn
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	obs    *observer
	dbName string
	url    string
}

// setupPgx connects to a fresh database with an orders table through a
// tracer built from cfg, its Observer replaced by the bundle's and its
// TracerProvider by the bundle's recorder.
func setupPgx(t *testing.T, cfg PgxConfig) *pgxBundle {
	t.Helper()
	ctx := context.Background()
	url := migtest.NewURL(t)
	tp, rec := newRecorder(t)
	b := &pgxBundle{rec: rec, tp: tp, obs: &observer{}, url: url}
	cfg.Observer, cfg.TracerProvider = b.obs, tp
	connCfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	connCfg.Tracer = NewPgxTracer(&cfg)
	b.dbName = connCfg.Database
	b.conn, err = pgx.ConnectConfig(ctx, connCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.conn.Close(ctx) })
	if _, err := b.conn.Exec(ctx, `CREATE TABLE orders (id bigint PRIMARY KEY, note text)`); err != nil {
		t.Fatal(err)
	}
	b.obs.take()
	return b
}

// inSpan runs fn under a parent span and returns the child spans it made.
func (b *pgxBundle) inSpan(t *testing.T, fn func(ctx context.Context)) []sdktrace.ReadOnlySpan {
	t.Helper()
	before := len(b.rec.Ended())
	ctx, parent := b.tp.Tracer("test").Start(context.Background(), "request")
	fn(ctx)
	parent.End()
	spans := b.rec.Ended()[before:]
	children := spans[:len(spans)-1]
	for _, s := range children {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q is not a child of the request span", s.Name())
		}
		if s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %q kind %v, want client", s.Name(), s.SpanKind())
		}
	}
	return children
}

func wantAttr(t *testing.T, s sdktrace.ReadOnlySpan, key, want string) {
	t.Helper()
	v, ok := attrOf(s, key)
	if !ok || v.String() != want {
		t.Errorf("span %q: %s = %q (set: %v), want %q", s.Name(), key, v.String(), ok, want)
	}
}

func TestPgxTracerQuerySpan(t *testing.T) {
	t.Parallel()
	b := setupPgx(t, PgxConfig{})
	spans := b.inSpan(t, func(ctx context.Context) {
		if _, err := b.conn.Exec(ctx, `INSERT INTO orders (id, note) VALUES ($1, $2)`, 42, "gift wrap"); err != nil {
			t.Fatal(err)
		}
		var note string
		if err := b.conn.QueryRow(ctx, `SELECT note FROM orders WHERE id = $1 AND note <> 'secret literal'`, 42).Scan(&note); err != nil {
			t.Fatal(err)
		}
	})
	if got := strings.Join(spanNames(spans), ","); got != "INSERT orders,SELECT orders" {
		t.Fatalf("span names %q, want operation and table only", got)
	}
	sel := spans[1]
	wantAttr(t, sel, "db.system.name", "postgresql")
	wantAttr(t, sel, "db.namespace", b.dbName)
	wantAttr(t, sel, "db.operation.name", "SELECT")
	wantAttr(t, sel, "db.collection.name", "orders")
	wantAttr(t, sel, "db.query.text", `SELECT note FROM orders WHERE id = $1 AND note <> 'secret literal'`)
	if _, ok := attrOf(sel, "server.address"); !ok {
		t.Error("server.address not set")
	}
	for _, kv := range spans[0].Attributes() {
		if strings.HasPrefix(string(kv.Key), "db.query.parameter") || strings.Contains(kv.Value.String(), "gift wrap") {
			t.Errorf("argument recorded without opting in: %s=%s", kv.Key, kv.Value.String())
		}
	}
	if sel.Status().Code != codes.Unset {
		t.Errorf("status %v on a successful query", sel.Status())
	}
}

func TestPgxTracerArgumentsOptIn(t *testing.T) {
	t.Parallel()
	b := setupPgx(t, PgxConfig{IncludeArgs: true, OmitQueryText: true})
	spans := b.inSpan(t, func(ctx context.Context) {
		if _, err := b.conn.Exec(ctx, `INSERT INTO orders (id, note) VALUES ($1, $2)`, 7, "fragile"); err != nil {
			t.Fatal(err)
		}
	})
	wantAttr(t, spans[0], "db.query.parameter.0", "7")
	wantAttr(t, spans[0], "db.query.parameter.1", "fragile")
	if _, ok := attrOf(spans[0], "db.query.text"); ok {
		t.Error("db.query.text recorded despite OmitQueryText")
	}
}

func TestPgxTracerErrors(t *testing.T) {
	t.Parallel()
	b := setupPgx(t, PgxConfig{})
	spans := b.inSpan(t, func(ctx context.Context) {
		if _, err := b.conn.Exec(ctx, `INSERT INTO orders (id) VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		if _, err := b.conn.Exec(ctx, `INSERT INTO orders (id) VALUES (1)`); err == nil {
			t.Fatal("duplicate insert succeeded")
		}
		var id int64
		err := b.conn.QueryRow(ctx, `SELECT id FROM orders WHERE id = $1`, 999).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("got %v, want pgx.ErrNoRows", err)
		}
	})
	if len(spans) != 3 {
		t.Fatalf("got spans %v", spanNames(spans))
	}
	dup, none := spans[1], spans[2]
	if dup.Status().Code != codes.Error {
		t.Errorf("unique violation status %v, want Error", dup.Status())
	}
	wantAttr(t, dup, "db.response.status_code", "23505")
	wantAttr(t, dup, "error.type", "23505")
	if none.Status().Code != codes.Unset || len(none.Events()) != 0 {
		t.Errorf("ErrNoRows marked the span: status %v, events %d", none.Status(), len(none.Events()))
	}
	calls := b.obs.take()
	if len(calls) != 3 || calls[1].err == nil || calls[2].err != nil {
		t.Fatalf("observer calls %+v: want the duplicate's error and no error for ErrNoRows", calls)
	}
}

func TestPgxTracerNeverStartsRootSpans(t *testing.T) {
	t.Parallel()
	b := setupPgx(t, PgxConfig{})
	before := len(b.rec.Ended())
	if _, err := b.conn.Exec(context.Background(), `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if got := b.rec.Ended()[before:]; len(got) != 0 {
		t.Fatalf("query without a parent span made spans %v", spanNames(got))
	}
	calls := b.obs.take()
	if len(calls) != 1 || calls[0].operation != "SELECT" || calls[0].elapsed <= 0 {
		t.Fatalf("observer calls %+v, want one timed SELECT even without a span", calls)
	}
}

func TestPgxTracerBatchCopyConnect(t *testing.T) {
	t.Parallel()
	b := setupPgx(t, PgxConfig{})
	var conn2 *pgx.Conn
	spans := b.inSpan(t, func(ctx context.Context) {
		batch := &pgx.Batch{}
		batch.Queue(`INSERT INTO orders (id) VALUES (1)`)
		batch.Queue(`UPDATE orders SET note = 'x' WHERE id = 1`)
		batch.Queue(`INSERT INTO orders (id) VALUES (1)`) // duplicate
		err := b.conn.SendBatch(ctx, batch).Close()
		if err == nil {
			t.Fatal("batch with a duplicate succeeded")
		}
		n, err := b.conn.CopyFrom(ctx, pgx.Identifier{"public", "orders"}, []string{"id"},
			pgx.CopyFromRows([][]any{{10}, {11}, {12}}))
		if err != nil || n != 3 {
			t.Fatalf("copy: %d, %v", n, err)
		}
		cfg, err := pgx.ParseConfig(b.url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Tracer = NewPgxTracer(&PgxConfig{TracerProvider: b.tp, Observer: b.obs})
		conn2, err = pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer conn2.Close(context.Background())
	if got := strings.Join(spanNames(spans), ","); got != "BATCH "+b.dbName+",COPY public.orders,CONNECT "+b.dbName {
		t.Fatalf("span names %q", got)
	}
	batch, cp := spans[0], spans[1]
	wantAttr(t, batch, "db.operation.batch.size", "3")
	wantAttr(t, batch, "db.response.status_code", "23505")
	if batch.Status().Code != codes.Error {
		t.Errorf("batch status %v, want Error", batch.Status())
	}
	var queries []string
	for _, e := range batch.Events() {
		if e.Name == "query" {
			for _, kv := range e.Attributes {
				if kv.Key == "db.operation.name" {
					queries = append(queries, kv.Value.AsString())
				}
			}
		}
	}
	if strings.Join(queries, ",") != "INSERT,UPDATE,INSERT" {
		t.Errorf("batch query events %v", queries)
	}
	wantAttr(t, cp, "db.collection.name", "public.orders")
	wantAttr(t, cp, "db.response.returned_rows", "3")
	var ops []string
	for _, c := range b.obs.take() {
		ops = append(ops, c.operation)
	}
	if got := strings.Join(ops, ","); !strings.HasPrefix(got, "BATCH,") || !strings.Contains(got, "COPY") || !strings.HasSuffix(got, "CONNECT") {
		t.Errorf("observed operations %q, want BATCH, COPY and CONNECT", got)
	}
}
