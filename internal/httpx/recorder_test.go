package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrapReusesAnOuterRecorder(t *testing.T) {
	t.Parallel()
	outer := Wrap(httptest.NewRecorder())
	if inner := Wrap(outer); inner != outer {
		t.Fatal("Wrap made a second recorder around a recorder")
	}
}

func TestRecorderStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		h    func(w http.ResponseWriter)
		want int
	}{
		{"Nothing", func(w http.ResponseWriter) {}, 0},
		{"BodyOnly", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "x") }, 200},
		{"Explicit", func(w http.ResponseWriter) { w.WriteHeader(404); w.WriteHeader(500) }, 404},
		{"EarlyHints", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(201) }, 201},
		{"Flush", func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			under := httptest.NewRecorder()
			w := Wrap(under)
			c.h(w)
			if w.Status() != c.want {
				t.Fatalf("Status() = %d, want %d", w.Status(), c.want)
			}
			if c.name == "Flush" && !under.Flushed {
				t.Fatal("flush did not reach the writer below")
			}
		})
	}
}

// TestRouteSharedBetweenCopies is the case of an outer middleware holding a
// request the mux never saw, because an inner one made a copy.
func TestRouteSharedBetweenCopies(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET example.com/orders/{id}", func(http.ResponseWriter, *http.Request) {})
	outerReq := httptest.NewRequest("GET", "http://example.com/orders/3", nil)
	rec := Wrap(httptest.NewRecorder())
	innerReq := outerReq.WithContext(outerReq.Context())
	mux.ServeHTTP(rec, innerReq)
	if got := rec.Route(innerReq); got != "/orders/{id}" {
		t.Fatalf("inner Route = %q", got)
	}
	if outerReq.Pattern != "" {
		t.Fatal("the test needs the outer request to miss the pattern")
	}
	if got := rec.Route(outerReq); got != "/orders/{id}" {
		t.Fatalf("outer Route = %q, want what the inner middleware saw", got)
	}
	if got := Wrap(httptest.NewRecorder()).Route(httptest.NewRequest("GET", "/", nil)); got != "" {
		t.Fatalf("Route with no match = %q, want empty", got)
	}
}
