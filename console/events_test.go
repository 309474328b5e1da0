package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
)

// evBuilds is a database two builds write to, as after a deploy: "build-good"
// before and beside "build-bad".
type evBuilds struct {
	db        *pgxpool.Pool
	good, bad *eventlog.Store
}

func newEvBuilds(t *testing.T, db *pgxpool.Pool) *evBuilds {
	t.Helper()
	b := &evBuilds{db: db}
	var err error
	if b.good, err = eventlog.New(db, &eventlog.Config{Writer: "build-good"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.good.Close)
	if b.bad, err = eventlog.New(db, &eventlog.Config{Writer: "build-bad"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.bad.Close)
	return b
}

// put appends data as the next version of stream ("type/id") and returns
// the record written.
func (b *evBuilds) put(t *testing.T, ctx context.Context, s *eventlog.Store, stream, data string, opts *eventlog.AppendOpts) *eventlog.Record {
	t.Helper()
	st, err := eventlog.ParseStream(stream)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Append(ctx, st, []eventlog.NewRecord{{Data: json.RawMessage(data)}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b.version(t, stream, res.Version)
}

func (b *evBuilds) version(t *testing.T, stream string, n int64) *eventlog.Record {
	t.Helper()
	st, _ := eventlog.ParseStream(stream)
	r, err := b.good.Version(context.Background(), st, n)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (b *evBuilds) latest(t *testing.T, stream string) *eventlog.Record {
	t.Helper()
	st, _ := eventlog.ParseStream(stream)
	r, err := b.good.Latest(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// evTraced is a context whose span has traceID, as a traced request's.
func evTraced(t *testing.T, traceID string) context.Context {
	t.Helper()
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	return trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
}

// evSection is the part of body from the element with id to the next
// marker (or the end), with HTML entities decoded, so assertions read as
// the page does.
func evSection(t *testing.T, body, id, next string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("the page has no element %q:\n%s", id, body)
	}
	s := body[i:]
	if j := strings.Index(s[1:], next); next != "" && j >= 0 {
		s = s[:j+1]
	}
	return html.UnescapeString(s)
}

// evSettled gets the type page p once no record is held back by a
// transaction still open: the fence is server-wide, and other tests'
// transactions hold it for moments.
func evSettled(t *testing.T, s *site, p string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body := s.mustGet(p)
		if !strings.Contains(body, `id="held-back"`) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds records back after 30s:\n%s", p, body)
		}
	}
}

func evWantAll(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func evJSONEqual(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s is %s, want %s", what, got, want)
	}
}

const evTraceID = "0af7651916cd43dd8448eb211c80319c"

func TestStreamPageShowsVersionsWithWhoAndWhatChanged(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	b.put(t, ctx, b.good, "order/42", `{"status": "new", "total": 10, "address": {"city": "Lyon", "zip": "69001"}}`,
		&eventlog.AppendOpts{Actor: "api", Reason: "placed"})
	b.put(t, evTraced(t, evTraceID), b.bad, "order/42", `{"status": "paid", "total": 10, "address": {"city": "Lyon"}, "paid_at": "2026-03-01"}`,
		&eventlog.AppendOpts{Actor: "payments", Reason: "card captured"})
	if _, err := b.good.Revert(ctx, eventlog.Stream{Type: "order", ID: "42"}, 1, &eventlog.RevertOpts{Actor: "oncall", Reason: "bad capture"}); err != nil {
		t.Fatal(err)
	}
	s := serve(t, db, &console.Config{Token: testToken, TraceURL: "https://tempo.example/trace/{trace_id}"})
	s.signIn("ana")

	body := s.mustGet("/events/streams/order/42")
	v3, v2, v1 := strings.Index(body, `id="v3"`), strings.Index(body, `id="v2"`), strings.Index(body, `id="v1"`)
	if v3 < 0 || v2 < v3 || v1 < v2 {
		t.Fatalf("the versions are not listed newest first (v3 at %d, v2 at %d, v1 at %d):\n%s", v3, v2, v1, body)
	}
	evWantAll(t, "the page head", evSection(t, body, "current", "</p>"), `3</strong>`)

	row2 := evSection(t, body, "v2", `id="v1"`)
	evWantAll(t, "version 2", row2,
		`<code class="writer">build-bad</code>`, `actor <span class="actor">payments</span>`, `reason <span class="reason">card captured</span>`,
		`<a class="trace" href="https://tempo.example/trace/`+evTraceID+`">`+evTraceID+`</a>`,
		`<code class="path">status</code> changed: <del>"new"</del> → <ins>"paid"</ins>`,
		`<code class="path">address.zip</code> removed: <del>"69001"</del>`,
		`<code class="path">paid_at</code> added: <ins>"2026-03-01"</ins>`,
		`class="revert" href="/events/revert/order/42?to=2"`)
	if strings.Contains(row2, `<code class="path">total</code>`) {
		t.Errorf("version 2 lists the unchanged total as a change:\n%s", row2)
	}

	row3 := evSection(t, body, "v3", `id="v2"`)
	evWantAll(t, "version 3", row3, "reverts to v1", `<code class="writer">build-good</code>`, "oncall",
		`<code class="path">status</code> changed: <del>"paid"</del> → <ins>"new"</ins>`,
		`<code class="path">address.zip</code> added: <ins>"69001"</ins>`)
	if strings.Contains(row3, `class="revert"`) {
		t.Error("the current version offers a revert to itself")
	}
	if strings.Contains(row3, `class="trace"`) {
		t.Error("a version written without a span shows a trace")
	}
	row1 := evSection(t, body, "v1", "</tr>")
	evWantAll(t, "version 1", row1, "created:", `"city": "Lyon"`, `href="/events/revert/order/42?to=1"`)

	// Without a TraceURL the trace id is shown, not linked.
	plain := serve(t, db, nil)
	row2 = evSection(t, plain.mustGet("/events/streams/order/42"), "v2", `id="v1"`)
	evWantAll(t, "version 2 without a TraceURL", row2, `<code class="trace">`+evTraceID+`</code>`)
	if strings.Contains(row2, "<a class=\"trace\"") {
		t.Error("a trace id is linked without a TraceURL")
	}

	if code, body, _ := s.get("/events/streams/order/43"); code != http.StatusNotFound || !strings.Contains(body, "no stream order/43") {
		t.Errorf("an unknown stream: %d, want 404 saying so\n%s", code, body)
	}
	if code, body, _ := s.get("/events/streams/order/42?after=x"); code != http.StatusBadRequest || !strings.Contains(body, "is not a version") {
		t.Errorf("a bad after: %d, want 400\n%s", code, body)
	}
}

func TestStreamPagePagesAndKeepsSlashesInIDs(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	const stream = "tenant/7/order/1" // type "tenant", id "7/order/1"
	for i := 1; i <= 25; i++ {
		b.put(t, ctx, b.good, stream, fmt.Sprintf(`{"n": %d}`, i), nil)
	}
	s := serve(t, db, nil)
	link := "/events/streams/tenant/7%2Forder%2F1"

	body := s.mustGet(link)
	if !strings.Contains(body, `id="v25"`) || !strings.Contains(body, `id="v6"`) || strings.Contains(body, `id="v5"`) {
		t.Fatalf("the first page does not hold versions 25 to 6:\n%s", body)
	}
	// The page's last row is still compared with the version before it.
	evWantAll(t, "version 6", evSection(t, body, "v6", "</tr>"), `<code class="path">n</code> changed: <del>5</del> → <ins>6</ins>`)
	older := evSection(t, body, "older", ">")
	if !strings.Contains(older, `href="`+link+`?after=6"`) {
		t.Fatalf("the link to older versions is %s", older)
	}
	body = s.mustGet(link + "?after=6")
	if !strings.Contains(body, `id="v5"`) || !strings.Contains(body, `id="v1"`) || strings.Contains(body, `id="v6"`) || strings.Contains(body, `id="older"`) {
		t.Fatalf("the second page does not hold exactly versions 5 to 1:\n%s", body)
	}
	evWantAll(t, "the second page", body, `id="newest" href="`+link+`"`)

	// The id's slashes read the same escaped or not.
	if body := s.mustGet("/events/streams/tenant/7/order/1"); !strings.Contains(body, `id="v25"`) {
		t.Error("the unescaped path does not show the stream")
	}
	evWantAll(t, "the type's page", evSettled(t, s, "/events/types/tenant"), `href="`+link+`"`)
}

func TestStreamPageAsOf(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	v1 := b.put(t, ctx, b.good, "order/7", `{"status": "new"}`, nil)
	v2 := b.put(t, ctx, b.good, "order/7", `{"status": "paid"}`, nil)
	b.put(t, ctx, b.good, "order/7", `{"status": "shipped"}`, nil)
	paris := time.FixedZone("CET", 3600)
	s := serve(t, db, &console.Config{Location: paris})

	body := s.mustGet("/events/streams/order/7?at=" + url.QueryEscape(v2.Time.Format(time.RFC3339Nano)))
	asOf := evSection(t, body, "as-of", "</section>")
	evWantAll(t, "the as-of answer at version 2's time", asOf, `<span id="as-of-version">2</span>`, `"status": "paid"`, `href="/events/streams/order/7?after=3&at=`, `#v2"`)

	// A minute in the console's location, without a zone: a minute after
	// the last write is the last version; read as UTC it would be an hour
	// before the stream existed.
	local := v1.Time.In(paris).Add(2 * time.Minute).Format("2006-01-02 15:04")
	body = s.mustGet("/events/streams/order/7?at=" + url.QueryEscape(local))
	evWantAll(t, "the as-of answer in the console's location", evSection(t, body, "as-of", "</section>"), `<span id="as-of-version">3</span>`)
	// The time as the pages show it reads back too.
	shown := v1.Time.In(paris).Add(2 * time.Minute).Format("2006-01-02 15:04:05 MST")
	body = s.mustGet("/events/streams/order/7?at=" + url.QueryEscape(shown))
	evWantAll(t, "the as-of answer at a shown time", evSection(t, body, "as-of", "</section>"), `<span id="as-of-version">3</span>`)

	before := v1.Time.Add(-time.Hour).Format(time.RFC3339)
	body = s.mustGet("/events/streams/order/7?at=" + url.QueryEscape(before))
	evWantAll(t, "the as-of answer before the stream", evSection(t, body, "not-yet", "</p>"), "order/7 did not exist yet at", "its first version was written at")
	if strings.Contains(body, `id="as-of-version"`) {
		t.Error("a time before the first version shows a version")
	}

	for _, bad := range []string{"yesterday", "2026-13-01 04:45", "2026-03-01 04:45 XYZ"} {
		code, body, _ := s.get("/events/streams/order/7?at=" + url.QueryEscape(bad))
		if code != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), "RFC 3339") || !strings.Contains(body, "CET") {
			t.Errorf("at=%q: %d, want 400 saying the format and the location\n%s", bad, code, body)
		}
	}
}

// A stream type may hold a slash, as an id may: the find box looks up
// each reading of what it is given, and refuses one two streams have.
func TestFindStreamWhoseTypeHoldsASlash(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	appendTo := func(st eventlog.Stream) {
		t.Helper()
		if _, err := b.good.Append(ctx, st, []eventlog.NewRecord{{Data: json.RawMessage(`{}`)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(eventlog.Stream{Type: "billing/invoice", ID: "1"})
	s := serve(t, db, nil)
	find := "/events?stream=" + url.QueryEscape("billing/invoice/1")
	if code, _, loc := s.get(find); code != http.StatusSeeOther || loc != "/events/streams/billing%2Finvoice/1" {
		t.Fatalf("find billing/invoice/1 with only type billing/invoice in the log: %d to %q, want 303 to that stream", code, loc)
	}
	appendTo(eventlog.Stream{Type: "billing", ID: "invoice/1"})
	code, body, _ := s.get(find)
	body = html.UnescapeString(body)
	if code != http.StatusBadRequest || !strings.Contains(body, `type "billing" with id "invoice/1"`) || !strings.Contains(body, `type "billing/invoice" with id "1"`) || !strings.Contains(body, "own fields") {
		t.Fatalf("find a name two streams have: %d, want 400 naming both and the two fields\n%s", code, body)
	}
	if code, _, loc := s.get("/events?type=" + url.QueryEscape("billing/invoice") + "&id=1"); code != http.StatusSeeOther || loc != "/events/streams/billing%2Finvoice/1" {
		t.Fatalf("find by the two fields: %d to %q", code, loc)
	}
}

func TestEventsPageFindsStreamsAndListsConsumersAndTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	b.put(t, ctx, b.good, "order/1", `{"n": 1}`, nil)
	b.put(t, ctx, b.good, "order/1", `{"n": 2}`, nil)
	inv := eventlog.Stream{Type: "invoice", ID: "9"}
	recs := make([]eventlog.NewRecord, 55)
	for i := range recs {
		recs[i] = eventlog.NewRecord{Data: json.RawMessage(fmt.Sprintf(`{"line": %d}`, i+1))}
	}
	if _, err := b.good.Append(ctx, inv, recs, nil); err != nil {
		t.Fatal(err)
	}
	s := serve(t, db, nil)

	body := s.mustGet("/events")
	evWantAll(t, "the event log page", body, `id="no-consumers"`, `<a href="/events/types/invoice">invoice</a>`, `<a href="/events/types/order">order</a>`,
		`action="/events/writers"`)
	for query, want := range map[string]string{
		"stream=order/1":           "/events/streams/order/1",
		"type=tenant&id=7/order/1": "/events/streams/tenant/7%2Forder%2F1",
		"stream=+order/1+":         "/events/streams/order/1",
		"type=a/b&id=1":            "/events/streams/a%2Fb/1", // a type may hold a slash
	} {
		if code, _, loc := s.get("/events?" + query); code != http.StatusSeeOther || loc != want {
			t.Errorf("find %s: %d to %q, want 303 to %q", query, code, loc, want)
		}
	}
	if code, body, _ := s.get("/events?stream=" + url.QueryEscape("order/\x00")); code != http.StatusBadRequest || !strings.Contains(body, "NUL byte") {
		t.Errorf("find a stream with a NUL byte: %d, want 400 naming it\n%s", code, body)
	}
	for _, query := range []string{"stream=order", "type=order&id=", "type=&id=1"} {
		code, body, _ := s.get("/events?" + query)
		if code != http.StatusBadRequest || !strings.Contains(body, `id="find-error"`) || !strings.Contains(body, "bad stream") {
			t.Errorf("find %s: %d, want 400 with the parse error\n%s", query, code, body)
		}
	}

	// A consumer that handled everything, then two records more.
	handled := 0
	var mu sync.Mutex
	cons, err := b.good.NewConsumer("billing", func(context.Context, pgx.Tx, *eventlog.Record) error {
		mu.Lock()
		handled++
		mu.Unlock()
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- cons.Run(runCtx) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := b.good.Consumers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) == 1 && st[0].Handled == 57 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer did not catch up: %+v", st)
		}
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	last := b.latest(t, "invoice/9")
	b.put(t, ctx, b.good, "order/1", `{"n": 3}`, nil)
	b.put(t, ctx, b.good, "order/1", `{"n": 4}`, nil)
	row := evSection(t, s.mustGet("/events"), "consumers", "</tr>\n</tbody>")
	evWantAll(t, "the consumer's row", row, `data-name="billing"`, fmt.Sprintf(`<td class="num">%d</td>`, last.Position), `<td class="num">57</td>`, `<td class="num lag warn">2</td>`)

	// The type's page, a page at a time in the consumers' order.
	body = evSettled(t, s, "/events/types/invoice")
	if n := strings.Count(body, `<tr class="record">`); n != 50 {
		t.Fatalf("the type's first page lists %d records, want 50", n)
	}
	m := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the type's first page has no next link:\n%s", body)
	}
	next := html.UnescapeString(m[1])
	body = evSettled(t, s, next)
	if n := strings.Count(body, `<tr class="record">`); n != 5 || strings.Contains(body, `id="next"`) {
		t.Errorf("the type's second page (%s) lists %d records, want the last 5 and no next link", next, n)
	}
	evWantAll(t, "the type's second page", body, `href="/events/streams/invoice/9"`, `id="first" href="/events/types/invoice"`)
	if code, body, _ := s.get("/events/types/invoice?after=12"); code != http.StatusBadRequest || !strings.Contains(body, "txid:position") {
		t.Errorf("a bad cursor: %d, want 400 saying the form\n%s", code, body)
	}
	if code, body, _ := s.get("/events/types/nope"); code != http.StatusNotFound || !strings.Contains(body, "no record of type") {
		t.Errorf("an unknown type: %d, want 404\n%s", code, body)
	}
}

var evExpectedRE = regexp.MustCompile(`name="expected" value="(\d+)"`)

func TestRevertStreamFromTheConsole(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	b.put(t, ctx, b.good, "order/5", `{"total": 30, "items": ["a"]}`, nil)
	b.put(t, ctx, b.bad, "order/5", `{"total": -30, "items": ["a"], "flag": true}`, nil)
	s := serve(t, db, &console.Config{Token: testToken})
	s.signIn("ana")

	preview := "/events/revert/order/5?to=1"
	body := s.mustGet(preview)
	evWantAll(t, "the preview", evSection(t, body, "preview-diff", "</div>"),
		`<code class="path">flag</code> removed: <del>true</del>`, `<code class="path">total</code> changed: <del>-30</del> → <ins>30</ins>`)
	evWantAll(t, "the preview", html.UnescapeString(body), `<strong id="to">1</strong>`, `"total": 30`, `action="/events/revert/order/5"`,
		`name="to" value="1"`, `name="reason"`)
	m := evExpectedRE.FindStringSubmatch(body)
	if m == nil || m[1] != "2" {
		t.Fatalf("the confirm form expects %v, want version 2", m)
	}
	if got := b.latest(t, "order/5").Version; got != 2 {
		t.Fatalf("the preview wrote: the stream is at %d", got)
	}

	code, _, loc := s.act(preview, "/events/revert/order/5", url.Values{"to": {"1"}, "expected": {m[1]}, "reason": {"negative totals"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/events/streams/order/5?msg=") {
		t.Fatalf("the revert: %d to %q, want 303 to the stream", code, loc)
	}
	got := b.latest(t, "order/5")
	if got.Version != 3 || !got.IsRevert || got.RevertOf != 1 || got.Actor != "ana (console)" || got.Reason != "negative totals" || got.Writer != "seatbelt-console" {
		t.Errorf("the revert record is v%d revert=%v of %d by %q for %q writer %q; want v3, a revert of 1 by ana (console) for the reason given, written by the console",
			got.Version, got.IsRevert, got.RevertOf, got.Actor, got.Reason, got.Writer)
	}
	evJSONEqual(t, "the reverted data", got.Data, `{"total": 30, "items": ["a"]}`)
	evWantAll(t, "the page after the revert", html.UnescapeString(s.mustGet(loc)), "Reverted order/5 to version 1: version 3 is a copy of it.")

	// A write between preview and confirm: the revert is refused and
	// writes nothing.
	body = s.mustGet("/events/revert/order/5?to=2")
	m = evExpectedRE.FindStringSubmatch(body)
	if m == nil || m[1] != "3" {
		t.Fatalf("the second preview expects %v, want version 3", m)
	}
	b.put(t, ctx, b.good, "order/5", `{"total": 31, "items": ["a"]}`, nil)
	code, body, _ = s.act("/events/streams/order/5", "/events/revert/order/5", url.Values{"to": {"2"}, "expected": {m[1]}})
	if code != http.StatusConflict || !strings.Contains(body, "moved on: it is at version 4 now, not 3") || !strings.Contains(body, "Look at the stream again") {
		t.Errorf("a revert of a stream that moved: %d, want 409 telling to look again\n%s", code, body)
	}
	if got := b.latest(t, "order/5"); got.Version != 4 || got.IsRevert {
		t.Errorf("the refused revert wrote: the stream is at v%d, revert=%v", got.Version, got.IsRevert)
	}

	// Bad input.
	for _, tc := range []struct {
		path string
		form url.Values
		code int
		want string
	}{
		{"/events/revert/order/5", url.Values{"expected": {"4"}}, http.StatusBadRequest, "give the version to revert to as to=N"},
		{"/events/revert/order/5", url.Values{"to": {"1"}}, http.StatusBadRequest, "give the version the stream was at"},
		{"/events/revert/order/5", url.Values{"to": {"one"}, "expected": {"4"}}, http.StatusBadRequest, "is not a version"},
		{"/events/revert/order/5", url.Values{"to": {"9"}, "expected": {"4"}}, http.StatusNotFound, "has no version 9 to revert to"},
		{"/events/revert/order/404", url.Values{"to": {"1"}, "expected": {"1"}}, http.StatusNotFound, "no version 1"},
	} {
		code, body, _ := s.act("/events/streams/order/5", tc.path, tc.form)
		if code != tc.code || !strings.Contains(html.UnescapeString(body), tc.want) {
			t.Errorf("POST %s %v: %d, want %d saying %q\n%s", tc.path, tc.form, code, tc.code, tc.want, body)
		}
	}
	for p, want := range map[string]string{
		"/events/revert/order/5":        "give the version to revert to as to=N",
		"/events/revert/order/5?to=x":   "is not a version",
		"/events/revert/order/5?to=12":  "has no version 12",
		"/events/revert/order/?to=1":    "bad stream",
		"/events/revert/order/404?to=1": "no version 1",
	} {
		code, body, _ := s.get(p)
		if code < 400 || code >= 500 || !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("GET %s: %d, want a 4xx saying %q\n%s", p, code, want, body)
		}
	}
	if got := b.latest(t, "order/5").Version; got != 4 {
		t.Errorf("bad input wrote: the stream is at %d", got)
	}
}

func TestRevertWriterFromTheConsole(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	b.put(t, ctx, b.good, "order/1", `{"total": 30}`, nil)
	b.put(t, ctx, b.good, "order/2", `{"total": 50}`, nil)
	deployed := b.put(t, ctx, b.bad, "order/1", `{"total": -30}`, nil).Time
	b.put(t, ctx, b.bad, "order/2", `{"total": -50}`, nil)
	b.put(t, ctx, b.good, "order/2", `{"total": 55}`, nil) // changed again after the bad build
	b.put(t, ctx, b.bad, "order/3", `{"total": -70}`, nil) // created by the bad build
	s := serve(t, db, &console.Config{Token: testToken})
	s.signIn("ana")
	since := deployed.Format(time.RFC3339Nano)
	list := "/events/writers?writer=build-bad&since=" + url.QueryEscape(since)

	body := s.mustGet(list)
	evWantAll(t, "the writer's summary", evSection(t, body, "summary", "</p>"), "changed <strong>3</strong> streams", "2 changed by no other writer since, 1 changed afterwards")
	evWantAll(t, "order/2's row", evSection(t, body, "changes", "</table>"), `data-stream="order/2"`, `<code>build-good</code>`, `<td class="num">v0 (no entity)</td>`)
	evWantAll(t, "the preview form", body, `action="/events/writers/revert"`, `name="force"`)

	preview := "/events/writers/revert?writer=build-bad&since=" + url.QueryEscape(since)
	body = s.mustGet(preview)
	plan := evSection(t, body, "plan", "</table>")
	evWantAll(t, "the revert's preview", plan,
		"reverts to v1 as v3", "reverts to v0 (no entity) as v2",
		"skipped: changed afterwards by [build-good]; revert it by hand or use force")
	evWantAll(t, "the preview's counts", body, `<strong id="reverting">2</strong>`, `<strong id="skipped">1</strong>`, `id="with-force"`, "Revert 2 streams")
	for stream, want := range map[string]int64{"order/1": 2, "order/2": 3, "order/3": 1} {
		if got := b.latest(t, stream).Version; got != want {
			t.Errorf("the preview wrote: %s is at %d, want %d", stream, got, want)
		}
	}
	body = s.mustGet(preview + "&force=1")
	evWantAll(t, "the forced preview", body, `<strong id="reverting">3</strong>`, "reverts to v1 as v4", `name="force" value="1"`)

	if code, _, _ := s.act(preview, "/events/writers/revert", url.Values{"writer": {"build-bad"}, "since": {since}}); code != http.StatusBadRequest {
		t.Fatalf("a writer revert without the preview's moment: %d, want 400", code)
	}
	seen := regexp.MustCompile(`name="seen" value="([^"]+)"`).FindStringSubmatch(s.mustGet(preview))
	if seen == nil {
		t.Fatal("the writer revert's form does not carry the preview's moment")
	}
	code, _, loc := s.act(preview, "/events/writers/revert", url.Values{"writer": {"build-bad"}, "since": {since}, "reason": {"build-bad negated totals"}, "seen": {seen[1]}})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/events/writers?") {
		t.Fatalf("the writer revert: %d to %q", code, loc)
	}
	msg := html.UnescapeString(s.mustGet(loc))
	evWantAll(t, "the page after the writer revert", msg, "Reverted 2 streams written by build-bad", "Skipped 1")
	o1, o2, o3 := b.latest(t, "order/1"), b.latest(t, "order/2"), b.latest(t, "order/3")
	if o1.Version != 3 || o1.RevertOf != 1 || o1.Actor != "ana (console)" || o1.Reason != "build-bad negated totals" {
		t.Errorf("order/1 is v%d revert of %d by %q for %q; want v3 reverting to 1 by ana (console)", o1.Version, o1.RevertOf, o1.Actor, o1.Reason)
	}
	evJSONEqual(t, "order/1's data", o1.Data, `{"total": 30}`)
	if o3.Version != 2 || !o3.IsRevert || o3.RevertOf != 0 || o3.Actor != "ana (console)" {
		t.Errorf("order/3 is v%d revert=%v of %d by %q; want v2 reverting to 0", o3.Version, o3.IsRevert, o3.RevertOf, o3.Actor)
	}
	evJSONEqual(t, "order/3's data", o3.Data, `null`)
	if o2.Version != 3 || o2.IsRevert {
		t.Errorf("the skipped order/2 was written: v%d revert=%v", o2.Version, o2.IsRevert)
	}
	evWantAll(t, "the list after the revert", s.mustGet(list), "already reverted")

	for p, want := range map[string]string{
		"/events/writers?writer=build-bad":                       "give since as RFC 3339",
		"/events/writers?writer=build-bad&since=last+night":      `since "last night" is not a time`,
		"/events/writers/revert?writer=build-bad&since=3am":      `since "3am" is not a time`,
		"/events/writers/revert?since=" + url.QueryEscape(since): "give the writer",
	} {
		code, body, _ := s.get(p)
		if code != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("GET %s: %d, want 400 saying %q\n%s", p, code, want, body)
		}
	}
	if code, body, _ := s.act(list, "/events/writers/revert", url.Values{"writer": {"build-bad"}}); code != http.StatusBadRequest || !strings.Contains(body, "RFC 3339") {
		t.Errorf("a writer revert without since: %d, want 400 saying the format\n%s", code, body)
	}
	if body := s.mustGet("/events/writers?writer=nobody&since=" + url.QueryEscape(since)); !strings.Contains(body, `id="no-changes"`) {
		t.Errorf("a writer that wrote nothing is not said so:\n%s", body)
	}
}

func TestReadOnlyConsoleDoesNotRevert(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	b.put(t, ctx, b.good, "order/1", `{"total": 30}`, nil)
	since := b.put(t, ctx, b.bad, "order/1", `{"total": -30}`, nil).Time.Format(time.RFC3339Nano)
	s := serve(t, db, nil)

	body := s.mustGet("/events/streams/order/1")
	if strings.Contains(body, `class="revert"`) || strings.Contains(body, `name="csrf"`) {
		t.Error("a read-only console offers a revert")
	}
	list := s.mustGet("/events/writers?writer=build-bad&since=" + url.QueryEscape(since))
	if !strings.Contains(list, `data-stream="order/1"`) || strings.Contains(list, `id="preview"`) {
		t.Error("a read-only console does not list the writer's changes, or offers their revert")
	}
	for _, p := range []string{"/events/revert/order/1?to=1", "/events/writers/revert?writer=build-bad&since=" + url.QueryEscape(since)} {
		if code, body, _ := s.get(p); code != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("GET %s on a read-only console: %d, want 403\n%s", p, code, body)
		}
	}
	for p, form := range map[string]url.Values{
		"/events/revert/order/1": {"to": {"1"}, "expected": {"2"}},
		"/events/writers/revert": {"writer": {"build-bad"}, "since": {since}},
	} {
		if code, body, _ := s.post(p, form); code != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("POST %s on a read-only console: %d, want 403\n%s", p, code, body)
		}
	}
	if got := b.latest(t, "order/1").Version; got != 2 {
		t.Errorf("a read-only console wrote: order/1 is at %d", got)
	}
}

// evQueries records the statements a pool runs, with their arguments.
type evQueries struct {
	mu   sync.Mutex
	list []pgx.TraceQueryStartData
}

func (q *evQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.list = append(q.list, d)
	return ctx
}

func (q *evQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (q *evQueries) take() []pgx.TraceQueryStartData {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.list
	q.list = nil
	return out
}

// evSeqScans returns the relations a JSON plan reads with a Seq Scan.
func evSeqScans(plan any) []string {
	var out []string
	switch p := plan.(type) {
	case map[string]any:
		if p["Node Type"] == "Seq Scan" {
			out = append(out, fmt.Sprint(p["Relation Name"]))
		}
		for _, v := range p {
			out = append(out, evSeqScans(v)...)
		}
	case []any:
		for _, v := range p {
			out = append(out, evSeqScans(v)...)
		}
	}
	return out
}

// The pages' statements, captured as the console runs them (the event
// log's own and the console's), read the records through indexes.
func TestEventPagesUseIndexes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	// 40,000 records of 10,000 streams over four types, big enough that the
	// BRIN index on the record time spans many ranges.
	if _, err := db.Exec(ctx, `
INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, writer)
SELECT (ARRAY['order', 'invoice', 'customer', 'shipment'])[1 + s % 4], 's' || s, v, 'seed-' || s || '-' || v,
	jsonb_build_object('n', v, 'pad', repeat('x', 300)), 'build-old'
FROM generate_series(1, 10000) s, generate_series(1, 4) v ORDER BY s, v`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO eventlog_consumers (name, xid, position)
		SELECT 'billing', xid, position FROM eventlog_records ORDER BY xid DESC, position DESC OFFSET 20 LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	b := newEvBuilds(t, db)
	deployed := b.put(t, ctx, b.bad, "order/s4", `{"n": 5}`, nil).Time
	b.put(t, ctx, b.bad, "order/s8", `{"n": 5}`, nil)
	b.put(t, ctx, b.good, "order/s8", `{"n": 6}`, nil)
	if _, err := db.Exec(ctx, `ANALYZE eventlog_records`); err != nil {
		t.Fatal(err)
	}

	var q evQueries
	cfg := db.Config()
	cfg.ConnConfig.Tracer = &q
	traced, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(traced.Close)
	s := serve(t, traced, &console.Config{Token: testToken})
	s.signIn("ana")
	since := url.QueryEscape(deployed.Format(time.RFC3339Nano))
	next := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(evSettled(t, s, "/events/types/order"))
	if next == nil {
		t.Fatal("the type's page has no next link")
	}
	q.take()
	for _, p := range []string{
		"/events",
		"/events/types/order",
		html.UnescapeString(next[1]),
		"/events/streams/order/s4",
		"/events/streams/order/s4?after=3",
		"/events/streams/order/s4?at=" + since,
		"/events/streams/order/s4?at=2000-01-01+00:00",
		"/events/revert/order/s4?to=2",
		"/events/writers?writer=build-bad&since=" + since,
		"/events/writers/revert?writer=build-bad&since=" + since,
	} {
		s.mustGet(p)
		explained := 0
		for _, d := range q.take() {
			if !strings.Contains(d.SQL, "eventlog_records") {
				continue
			}
			var plan string
			if err := db.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+d.SQL, d.Args...).Scan(&plan); err != nil {
				t.Fatalf("%s: EXPLAIN %s: %v", p, d.SQL, err)
			}
			var tree any
			if err := json.Unmarshal([]byte(plan), &tree); err != nil {
				t.Fatal(err)
			}
			for _, rel := range evSeqScans(tree) {
				if rel == "eventlog_records" {
					t.Errorf("%s reads eventlog_records with a Seq Scan:\n%s\n%s", p, d.SQL, plan)
				}
			}
			explained++
		}
		if explained == 0 {
			t.Errorf("%s ran no statement on eventlog_records: the capture is broken", p)
		}
	}
}

// A type that holds a slash is escaped in the path and names its own
// stream, not the stream that "type/id" would parse to.
func TestStreamTypeWithASlash(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	st, err := eventlog.New(db, &eventlog.Config{Writer: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, w := range []struct {
		s    eventlog.Stream
		data string
	}{
		{eventlog.Stream{Type: "billing/invoice", ID: "1"}, `{"which":"slash-in-type"}`},
		{eventlog.Stream{Type: "billing", ID: "invoice/1"}, `{"which":"slash-in-id"}`},
	} {
		if _, err := st.Append(ctx, w.s, []eventlog.NewRecord{{Data: json.RawMessage(w.data)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := serve(t, db, nil)
	if body := s.mustGet("/events/streams/billing%2Finvoice/1"); !strings.Contains(body, "slash-in-type") || strings.Contains(body, "slash-in-id") {
		t.Fatalf("the stream billing/invoice · 1 shows another stream's data:\n%s", body)
	}
	if body := s.mustGet("/events/streams/billing/invoice/1"); !strings.Contains(body, "slash-in-id") || strings.Contains(body, "slash-in-type") {
		t.Fatalf("the stream billing · invoice/1 shows another stream's data:\n%s", body)
	}
}

// A consumer group's partitions each get a row that names the partition.
func TestEventsPageListsAGroupsPartitions(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	b := newEvBuilds(t, db)
	ctx := context.Background()
	for i := range 6 {
		b.put(t, ctx, b.good, fmt.Sprintf("order/%d", i), `{"n": 1}`, nil)
	}
	var mu sync.Mutex
	handled := 0
	g, err := b.good.NewGroup("shipping", 2, func(context.Context, pgx.Tx, *eventlog.Record) error {
		mu.Lock()
		handled++
		mu.Unlock()
		return nil
	}, &eventlog.ConsumerConfig{TakeoverPoll: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- g.Run(runCtx) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := handled
		mu.Unlock()
		if n == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group handled %d of 6 records", n)
		}
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := serve(t, db, nil)
	rows := evSection(t, s.mustGet("/events"), "consumers", "</tbody>")
	evWantAll(t, "the group's rows", rows, `data-name="shipping" data-partition="0"`, "partition 0 of 2", `data-name="shipping" data-partition="1"`, "partition 1 of 2")
	evWantAll(t, "the overview", s.mustGet("/"), "shipping (partition 0 of 2)", "shipping (partition 1 of 2)")
}
