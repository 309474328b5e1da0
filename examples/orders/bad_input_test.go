package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/tracing"
)

// send is call with a body that may be any bytes, sent with the given
// Content-Length (or chunked when -1), returning the raw answer.
func (b *testBundle) send(t *testing.T, method, path string, body []byte, length int64, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if length < 0 {
		req.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	req.ContentLength = length
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header
}

// databaseText is what a PostgreSQL or pgx error looks like in an answer.
var databaseText = regexp.MustCompile(`SQLSTATE|invalid byte sequence|unsupported Unicode|relation "|eventlog:|jobs:|pgx|ERROR:`)

func TestBadInputGetsAReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nul := []byte(`{"customer":"a\u0000b","items":[{"sku":"a","qty":1,"price_cents":1}]}`)
	badUTF8 := []byte("{\"customer\":\"a\xffb\",\"items\":[{\"sku\":\"a\",\"qty\":1,\"price_cents\":1}]}")
	big := []byte(`{"customer":"` + strings.Repeat("x", maxBody) + `"}`)
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		header             []string
		code               int
		want               string
	}{
		{"NULInOrderID", "GET", "/orders/a%00b", nil, nil, 400, "order id"},
		{"InvalidUTF8InOrderID", "GET", "/orders/a%ffb", nil, nil, 400, "order id"},
		{"NULInVersionsID", "GET", "/orders/a%00b/versions", nil, nil, 400, "order id"},
		{"NULInUpdateID", "PUT", "/orders/a%00b", []byte(order1), []string{"If-Match", "1"}, 400, "order id"},
		{"NULInRevertID", "POST", "/orders/a%00b/revert", []byte(`{"to_version":1}`), nil, 400, "order id"},
		{"NULInCustomer", "GET", "/customers/a%00b/summary", nil, nil, 400, "customer"},
		{"InvalidUTF8InCustomer", "GET", "/customers/a%ffb/summary", nil, nil, 400, "customer"},
		{"NULInBody", "POST", "/orders", nul, nil, 400, `\u0000`},
		{"NULInImportBody", "POST", "/imports", []byte(`{"customer":"a\u0000","orders":1}`), nil, 400, `\u0000`},
		{"NULInRevertReason", "POST", "/orders/o-1/revert", []byte(`{"to_version":1,"reason":"\u0000"}`), nil, 400, `\u0000`},
		{"InvalidUTF8InBody", "POST", "/orders", badUTF8, nil, 400, "not valid UTF-8 at byte 14"},
		{"InvalidUTF8InKey", "POST", "/orders", []byte(order1), []string{"Idempotency-Key", "k\xff"}, 400, "Idempotency-Key"},
		{"LongKey", "POST", "/orders", []byte(order1), []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "Idempotency-Key"},
		{"InvalidUTF8InImportKey", "POST", "/imports", []byte(`{"customer":"c","orders":1}`), []string{"Idempotency-Key", "k\xff"}, 400, "Idempotency-Key"},
		{"WrongType", "POST", "/orders", []byte(`{"customer":"c","items":"a"}`), nil, 400, "items: want an array, got string"},
		{"Truncated", "POST", "/orders", []byte(`{"customer":`), nil, 400, "ends before it is complete"},
		{"TooLarge", "POST", "/orders", big, nil, 413, "larger than the limit of 1048576 bytes"},
		{"NotJSON", "POST", "/orders", []byte(order1), []string{"Content-Type", "text/plain"}, 415, "Content-Type: want application/json"},
		{"Form", "POST", "/imports", []byte(`customer=c`), []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "Content-Type"},
		{"OtherCharset", "POST", "/orders", []byte(order1), []string{"Content-Type", "application/json; charset=latin1"}, 415, "charset utf-8"},
		{"JSONWithCharset", "POST", "/orders", []byte(order1), []string{"Content-Type", "application/json; charset=UTF-8"}, 201, ""},
		{"NoContentType", "POST", "/orders", []byte(order1), nil, 201, ""},
	} {
		code, raw, _ := b.send(t, tc.method, tc.path, tc.body, int64(len(tc.body)), tc.header...)
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Errorf("%s: answer is not JSON: %d %s", tc.name, code, raw)
			continue
		}
		msg, _ := m["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.want) || databaseText.MatchString(raw) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, code, raw, tc.code, tc.want)
		}
	}
	// Without a Content-Length the limit holds as the body is read.
	if code, raw, _ := b.send(t, "POST", "/orders", big, -1); code != 413 {
		t.Errorf("chunked body over the limit: %d %s, want 413", code, raw)
	}
}

func TestSlowBodyGets408(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewUnstartedServer(b.handler)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 || !strings.Contains(string(raw), "read timeout") {
		t.Fatalf("%d %s, want 408", resp.StatusCode, raw)
	}
}

func TestServerErrorsKeepTheCauseInTheLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.db.Exec(ctx, `DROP TABLE customer_summaries`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(ctx, `ALTER TABLE eventlog_records RENAME TO eventlog_records_gone`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/customers/c-1/summary", "/orders/o-1"} {
		code, m, _ := b.call(t, "GET", path, "")
		id, _ := m["trace_id"].(string)
		raw, _ := json.Marshal(m)
		if code != 500 || len(id) != 32 || databaseText.MatchString(string(raw)) || !strings.Contains(m["error"].(string), id) {
			t.Errorf("GET %s: %d %s, want 500 with a trace id and no database text", path, code, raw)
			continue
		}
		found := false
		for _, rec := range b.logs.records(t, "orders: request failed") {
			if rec["trace_id"] == id && rec["path"] == path && strings.Contains(rec["error"].(string), "does not exist") {
				found = true
			}
		}
		if !found {
			t.Errorf("GET %s: no log record with trace id %s and the cause; logged %v", path, id, b.logs.records(t, "orders: request failed"))
		}
	}

	// Outside a trace the answer and the log share an id of their own.
	srv := httptest.NewServer(routes(b.db, b.log, nil, "test-build", slog.New(tracing.NewLogHandler(slog.NewJSONHandler(b.logs, nil)))))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/customers/c-2/summary")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	id, _ := m["trace_id"].(string)
	recs := b.logs.records(t, "orders: request failed")
	if resp.StatusCode != 500 || len(id) != 32 || len(recs) == 0 || recs[len(recs)-1]["trace_id"] != id {
		t.Fatalf("untraced: %d %v; logged %v", resp.StatusCode, m, recs)
	}
}
