// Package httpx holds the response-writer wrapper that the tracing and
// metrics middleware share, so that stacking both wraps the writer once.
package httpx

import (
	"bufio"
	"net"
	"net/http"
	"strings"
)

// Recorder remembers the status code a handler wrote. It passes flushing and
// hijacking through, and Unwrap lets http.ResponseController reach the
// writer below.
type Recorder struct {
	http.ResponseWriter
	status  int
	pattern string
}

// Wrap returns w itself when it already is a *Recorder (an outer middleware
// made it), else a new Recorder around w.
func Wrap(w http.ResponseWriter) *Recorder {
	if r, ok := w.(*Recorder); ok {
		return r
	}
	return &Recorder{ResponseWriter: w}
}

// Status is the status code written so far: 200 once the body was written
// without an explicit code, 101 after a hijack, 0 if nothing was written.
func (w *Recorder) Status() int { return w.status }

// Route returns the path part of the ServeMux pattern that matched the
// request, reading it from r or, when r is a copy the mux never saw (an inner
// middleware called r.WithContext), from what an inner middleware noted with
// the same call. It returns "" when no pattern matched. Call it after the
// handler returned.
func (w *Recorder) Route(r *http.Request) string {
	p := r.Pattern
	if p == "" {
		p = w.pattern
	} else {
		w.pattern = p // for the middleware outside, which may hold another copy
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[i:]
	}
	return ""
}

// WriteHeader implements http.ResponseWriter. Informational codes (1xx) are
// passed on without being remembered, as the final code follows them.
func (w *Recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *Recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher, for streaming handlers.
func (w *Recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker, for WebSocket upgrades; the request then
// counts as status 101.
func (w *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
