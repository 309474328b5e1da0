package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

const order2 = `{"customer":"c-2","items":[{"sku":"b","qty":1,"price_cents":999}]}`

// history is the order's stored versions' data, oldest first.
func (b *testBundle) history(t *testing.T, id string) []string {
	t.Helper()
	page, err := b.log.History(context.Background(), orderStream(id), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range page.Records {
		out = append(out, string(r.Data))
	}
	return out
}

func customerOf(m map[string]any) any {
	o, _ := m["order"].(map[string]any)
	return o["customer"]
}

func TestIdempotencyKeyReusedForAnotherRequestIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, first, _ := b.call(t, "POST", "/orders", order1, "Idempotency-Key", "k-1")
	if code != 201 {
		t.Fatalf("create: %d %v", code, first)
	}
	id := first["id"].(string)

	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
	}{
		{"AnotherBody", "POST", "/orders", order2, nil},
		{"SameBodyAsAnUpdate", "PUT", "/orders/" + id, order1, []string{"If-Match", "1"}},
	} {
		code, m, _ := b.call(t, tc.method, tc.path, tc.body, append([]string{"Idempotency-Key", "k-1"}, tc.header...)...)
		if code != 422 || !strings.Contains(m["error"].(string), "Idempotency-Key: already used for a different request") {
			t.Errorf("%s: %d %v, want 422 naming the key", tc.name, code, m)
		}
	}
	if h := b.history(t, id); len(h) != 1 || !strings.Contains(h[0], `"c-1"`) {
		t.Fatalf("stored after the refused requests: %v, want only the first order", h)
	}

	// A retry of the first request, however it is encoded, gets the stored
	// answer again.
	retry := `{ "items": [{"price_cents":150, "qty":2, "sku":"a"}], "customer": "c-1", "status": "new" }`
	code, again, h := b.call(t, "POST", "/orders", retry, "Idempotency-Key", "k-1")
	if code != 200 || h.Get("Idempotent-Replayed") != "true" || !sameAnswer(first, again) {
		t.Fatalf("retry: %d %v %v, want 200 replaying %v", code, again, h, first)
	}

	// The same for updates: the key answers the request it was first sent
	// with, version and all, even after the order moved on.
	up := `{"customer":"c-1","status":"paid","items":[{"sku":"a","qty":3,"price_cents":150}]}`
	code, updated, _ := b.call(t, "PUT", "/orders/"+id, up, "If-Match", "1", "Idempotency-Key", "k-2")
	if code != 200 || updated["version"] != 2.0 {
		t.Fatalf("update: %d %v", code, updated)
	}
	for _, tc := range []struct {
		name, path, body, ifMatch string
	}{
		{"AnotherBody", "/orders/" + id, order1, "1"},
		{"AnotherIfMatch", "/orders/" + id, up, "2"},
	} {
		code, m, _ := b.call(t, "PUT", tc.path, tc.body, "If-Match", tc.ifMatch, "Idempotency-Key", "k-2")
		if code != 422 || !strings.Contains(m["error"].(string), "Idempotency-Key") {
			t.Errorf("update %s: %d %v, want 422", tc.name, code, m)
		}
	}
	code, other, _ := b.call(t, "POST", "/orders", order2)
	if code != 201 {
		t.Fatalf("second order: %d %v", code, other)
	}
	code, m, _ := b.call(t, "PUT", "/orders/"+other["id"].(string), up, "If-Match", "1", "Idempotency-Key", "k-2")
	if code != 422 {
		t.Errorf("key of an update of another order: %d %v, want 422", code, m)
	}
	if code, m, _ := b.call(t, "PUT", "/orders/"+id, order2, "If-Match", "2"); code != 200 || m["version"] != 3.0 {
		t.Fatalf("update without a key: %d %v", code, m)
	}
	code, again, h = b.call(t, "PUT", "/orders/"+id, up, "If-Match", "1", "Idempotency-Key", "k-2")
	if code != 200 || h.Get("Idempotent-Replayed") != "true" || !sameAnswer(updated, again) || h.Get("ETag") != `"2"` {
		t.Fatalf("update retry: %d %v %v, want 200 replaying %v", code, again, h, updated)
	}
	if h := b.history(t, id); len(h) != 3 || !strings.Contains(h[1], `"paid"`) {
		t.Fatalf("stored: %v, want the create, the keyed update and the one without a key", h)
	}
}

// sameAnswer compares two answers for one stored version.
func sameAnswer(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestIdempotencyKeySentConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	type answer struct {
		code int
		m    map[string]any
		body string
	}
	answers := make([]answer, 12)
	var wg sync.WaitGroup
	for i := range answers {
		body := order1
		if i%2 == 1 {
			body = order2
		}
		wg.Go(func() {
			code, m, _ := b.call(t, "POST", "/orders", body, "Idempotency-Key", "k-race")
			answers[i] = answer{code, m, body}
		})
	}
	wg.Wait()
	created := 0
	var winner map[string]any
	for _, a := range answers {
		if a.code == 201 {
			created++
			winner = a.m
		}
	}
	if created != 1 {
		t.Fatalf("%d answers 201, want 1: %v", created, answers)
	}
	id := winner["id"].(string)
	h := b.history(t, id)
	if len(h) != 1 {
		t.Fatalf("stored %v, want one version", h)
	}
	for _, a := range answers {
		sameRequest := strings.Contains(a.body, fmt.Sprint(customerOf(winner)))
		switch {
		case sameRequest && a.code != 201 && (a.code != 200 || !sameAnswer(a.m, winner)):
			t.Errorf("retry of the stored request: %d %v, want 200 with %v", a.code, a.m, winner)
		case !sameRequest && a.code != 422:
			t.Errorf("other request with the key: %d %v, want 422", a.code, a.m)
		}
	}
}

func TestWritesAnswerWhatWasStored(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, created, _ := b.call(t, "POST", "/orders", order1)
	if code != 201 {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)
	_, read, _ := b.call(t, "GET", "/orders/"+id, "")
	if created["writer"] != "test-build" || created["time"] == "0001-01-01T00:00:00Z" || !sameAnswer(created, read) {
		t.Fatalf("create answered %v; stored %v", created, read)
	}
	code, updated, _ := b.call(t, "PUT", "/orders/"+id, order1, "If-Match", "1")
	if code != 200 {
		t.Fatalf("update: %d %v", code, updated)
	}
	_, read, _ = b.call(t, "GET", "/orders/"+id, "")
	if updated["writer"] != "test-build" || updated["time"] == created["time"] || !sameAnswer(updated, read) {
		t.Fatalf("update answered %v; stored %v", updated, read)
	}
}

func TestImportIDIsSetOnlyByImports(t *testing.T) {
	t.Parallel()
	b := setup(t)
	withImport := `{"customer":"c-1","import_id":"7","items":[{"sku":"a","qty":1,"price_cents":1}]}`
	code, m, _ := b.call(t, "POST", "/orders", withImport)
	if code != 400 || !strings.Contains(m["error"].(string), "import_id: set only by the import") {
		t.Fatalf("create with import_id: %d %v, want 400", code, m)
	}

	// An order an import created keeps its import_id through updates; a
	// client may send it back as read, but not change it.
	imported := importOrderID(7, 0)
	if _, err := b.log.Append(context.Background(), orderStream(imported), []eventlog.NewRecord{{Data: json.RawMessage(withImport)}}, nil); err != nil {
		t.Fatal(err)
	}
	code, m, _ = b.call(t, "PUT", "/orders/"+imported, order1, "If-Match", "1")
	if code != 200 || m["order"].(map[string]any)["import_id"] != "7" {
		t.Fatalf("update leaving import_id out: %d %v, want it kept", code, m)
	}
	code, m, _ = b.call(t, "PUT", "/orders/"+imported, withImport, "If-Match", "2")
	if code != 200 || m["order"].(map[string]any)["import_id"] != "7" {
		t.Fatalf("update sending import_id back: %d %v", code, m)
	}
	code, m, _ = b.call(t, "PUT", "/orders/"+imported, strings.Replace(withImport, `"7"`, `"8"`, 1), "If-Match", "3")
	if code != 400 || !strings.Contains(m["error"].(string), "import_id") {
		t.Fatalf("update changing import_id: %d %v, want 400", code, m)
	}
	if code, created, _ := b.call(t, "POST", "/orders", order1); code != 201 {
		t.Fatalf("create: %d %v", code, created)
	} else if code, m, _ = b.call(t, "PUT", "/orders/"+created["id"].(string), withImport, "If-Match", "1"); code != 400 {
		t.Fatalf("setting import_id on an order no import made: %d %v, want 400", code, m)
	}
}

func TestImportIdempotencyKeyWithOtherArgumentsIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t) // no worker: the first import stays queued
	code, first, _ := b.call(t, "POST", "/imports", `{"customer":"bulk","orders":10}`, "Idempotency-Key", "imp-1")
	if code != 202 {
		t.Fatalf("enqueue: %d %v", code, first)
	}
	code, again, _ := b.call(t, "POST", "/imports", `{"orders":10, "customer":"bulk"}`, "Idempotency-Key", "imp-1")
	if code != 202 || again["id"] != first["id"] || again["duplicate"] != true {
		t.Fatalf("retry: %d %v, want the first import %v", code, again, first["id"])
	}
	code, m, _ := b.call(t, "POST", "/imports", `{"customer":"bulk","orders":20}`, "Idempotency-Key", "imp-1")
	if code != 422 || !strings.Contains(m["error"].(string), "Idempotency-Key") {
		t.Fatalf("other arguments: %d %v, want 422", code, m)
	}
	_, job, _ := b.call(t, "GET", "/imports/"+jsonID(first["id"]), "")
	if args, _ := job["args"].(map[string]any); args["orders"] != 10.0 {
		t.Fatalf("stored import: %v, want the first arguments", job)
	}
}
