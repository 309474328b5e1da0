package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

const maxBody = 1 << 20

// decodeJSON reads exactly one JSON object into v, or answers the client
// with what is wrong and returns false. Unknown fields and trailing data are
// errors, so a typo in a field name is refused rather than ignored; so are
// text PostgreSQL cannot store (invalid UTF-8, \u0000), which is refused
// rather than altered.
//
// The body must be declared application/json (a charset, if given, must be
// utf-8). A request without a Content-Type is read as JSON, because it is
// parsed as strictly either way and many clients send none; a service that
// authenticates browsers with cookies should refuse it instead, since a
// cross-site request can be sent without a Content-Type and without a CORS
// preflight.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type: want application/json, got %q", ct))
			return false
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type: want charset utf-8, got %q", cs))
			return false
		}
	}
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, errBodyTooLarge)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, errBodyTooLarge)
		return false
	case errors.Is(err, os.ErrDeadlineExceeded):
		writeError(w, http.StatusRequestTimeout, errors.New("body: not received within the server's read timeout; send it at once"))
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Errorf("body: reading it failed: %w", err))
		return false
	}
	if err := checkJSON(body, v); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

var errBodyTooLarge = fmt.Errorf("body: larger than the limit of %d bytes; send less", maxBody)

// checkJSON decodes body into v and says what is wrong in terms a client
// can act on.
func checkJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("body: want a JSON object, got nothing")
	}
	if i := invalidUTF8(body); i >= 0 {
		return fmt.Errorf("body: not valid UTF-8 at byte %d; send the JSON encoded as UTF-8", i)
	}
	if i := nulInString(body); i >= 0 {
		return fmt.Errorf("body: a string before byte %d contains \\u0000, which cannot be stored; remove it", i)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil && dec.More():
		return errors.New("body: want one JSON object, got more after it")
	case err == nil:
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("body: the JSON ends before it is complete")
	case errors.As(err, &syntax):
		return fmt.Errorf("body: not valid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("body: %s: want %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("body: want %s, got %s", jsonKind(typ.Type), typ.Value)
	}
	return fmt.Errorf("body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// invalidUTF8 is the offset of the first byte that is not UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// nulInString is the offset just after the first JSON string holding
// U+0000, or -1. PostgreSQL's text and jsonb cannot hold it, and in valid
// JSON it can only be written as the escape \u0000.
func nulInString(body []byte) int64 {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return -1
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return -1
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			return dec.InputOffset()
		}
	}
}

// checkText refuses client text that PostgreSQL cannot store.
func checkText(what, s string) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%s: %q is not valid UTF-8 text without NUL characters", what, s)
	}
	return nil
}

type errorBody struct {
	Error   string `json:"error"`
	TraceID string `json:"trace_id,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers a problem the client can fix; err says what to do.
func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{Error: err.Error()})
}

// serverError answers 500 without err, whose text (a database error, say)
// is for the service's operators and not its clients, and logs err under
// the request's trace id, which the answer carries so that a client's
// report leads to the log line and the trace. logger must add trace ids
// from the context (tracing.NewLogHandler), as main's does; a request
// outside any trace gets an id of its own, logged here.
func serverError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	attrs := []any{"method", r.Method, "path", r.URL.Path, "error", err}
	id := trace.SpanContextFromContext(r.Context()).TraceID()
	traceID := id.String()
	if !id.IsValid() {
		var b [16]byte
		_, _ = rand.Read(b[:])
		traceID = hex.EncodeToString(b[:])
		attrs = append(attrs, "trace_id", traceID)
	}
	logger.ErrorContext(r.Context(), "orders: request failed", attrs...)
	writeJSON(w, http.StatusInternalServerError, errorBody{
		Error:   "internal error: the service logged it under trace id " + traceID + "; retry later, and report that id if it persists",
		TraceID: traceID,
	})
}
