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
