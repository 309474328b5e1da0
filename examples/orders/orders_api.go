package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/tracing"
)

// ordersAPI serves orders as versioned records: every change appends a new
// version, so any version can be read back and a bad change reverted.
type ordersAPI struct {
	events *eventlog.Store
	logger *slog.Logger
}

// orderView is what the API returns for one version of an order.
type orderView struct {
	ID       string    `json:"id"`
	Version  int64     `json:"version"`
	Time     time.Time `json:"time"`
	Writer   string    `json:"writer"`
	RevertOf int64     `json:"revert_of,omitempty"`
	Order    *Order    `json:"order"`
}

func (a *ordersAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /orders", a.create)
	mux.HandleFunc("GET /orders/{id}", a.get)
	mux.HandleFunc("GET /orders/{id}/versions", a.versions)
	mux.HandleFunc("PUT /orders/{id}", a.update)
	mux.HandleFunc("POST /orders/{id}/revert", a.revert)
}

func orderStream(id string) eventlog.Stream { return eventlog.Stream{Type: "order", ID: id} }

func view(rec *eventlog.Record) (orderView, error) {
	v := orderView{ID: rec.Stream.ID, Version: rec.Version, Time: rec.Time, Writer: rec.Writer, RevertOf: rec.RevertOf}
	if string(rec.Data) != "null" {
		v.Order = new(Order)
		if err := json.Unmarshal(rec.Data, v.Order); err != nil {
			return v, fmt.Errorf("order %s version %d: stored data: %w", rec.Stream.ID, rec.Version, err)
		}
	}
	return v, nil
}

// create appends version 1 of a new order. With an Idempotency-Key header
// the order's id comes from the key, so a retry names the same order and
// gets the first answer again (see save).
func (a *ordersAPI) create(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var o Order
	if !decodeJSON(w, r, &o) {
		return
	}
	if err := o.fromClient(""); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	a.save(w, r, newOrderID(key), &o, key, eventlog.NoStream, "create")
}

// requestMeta is the metadata of a record written under an Idempotency-Key.
type requestMeta struct {
	RequestSHA256 string `json:"request_sha256"`
}

var errKeyReused = errors.New("Idempotency-Key: already used for a different request (another body, method, order or If-Match); send a new key with a new request, the same key only with a retry of the same request")

// save appends o as the next version of order id and answers with the
// version as stored.
//
// With an Idempotency-Key the record's id is made from the key and its
// metadata holds a hash of the request, so the key, the request it
// answered and the answer (the record itself) are one row, committed at
// once: a crash at any moment leaves all three or none, and the retry then
// writes or replays. Record ids are unique, so of two requests with the
// same key one writes and the other, waiting on the stream's lock or the
// index, finds that record. Either way the key's record is compared with
// this request: the same request gets the stored version again (200,
// Idempotent-Replayed: true), another request gets 422 and nothing
// changes.
func (a *ordersAPI) save(w http.ResponseWriter, r *http.Request, id string, o *Order, key string, expected eventlog.ExpectedVersion, reason string) {
	stream := orderStream(id)
	data, err := json.Marshal(o)
	if err != nil {
		serverError(w, r, a.logger, err)
		return
	}
	hash := requestHash(r, expected, data)
	rec := eventlog.NewRecord{Data: data}
	if key != "" {
		rec.ID = keyRecordID(key)
		rec.Metadata, _ = json.Marshal(requestMeta{RequestSHA256: hash})
	}
	res, err := a.appendOrder(r.Context(), stream, rec, expected, reason)
	if err != nil {
		a.writeAppendError(w, r, err)
		return
	}
	stored, err := a.events.Version(r.Context(), stream, res.Version)
	if err != nil {
		serverError(w, r, a.logger, err)
		return
	}
	if res.Duplicate {
		var meta requestMeta
		if json.Unmarshal(stored.Metadata, &meta) != nil || meta.RequestSHA256 != hash {
			writeError(w, http.StatusUnprocessableEntity, errKeyReused)
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
	}
	v, err := view(stored)
	if err != nil {
		serverError(w, r, a.logger, err)
		return
	}
	code := http.StatusOK
	if v.Version == 1 {
		w.Header().Set("Location", "/orders/"+id)
		if !res.Duplicate {
			code = http.StatusCreated
		}
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(v.Version, 10)))
	writeJSON(w, code, v)
}

func (a *ordersAPI) appendOrder(ctx context.Context, stream eventlog.Stream, rec eventlog.NewRecord, expected eventlog.ExpectedVersion, reason string) (_ *eventlog.AppendResult, err error) {
	ctx, span := tracing.Start(ctx, "orders.append")
	defer tracing.End(span, &err)
	return a.events.Append(ctx, stream, []eventlog.NewRecord{rec}, &eventlog.AppendOpts{Expected: expected, Reason: reason})
}

// requestHash identifies what a request asks for: its method, its path, the
// version it expects and the order as it will be stored, so that a retry
// encoding the same order differently (spacing, field order, a default
// left out) is still the same request.
func requestHash(r *http.Request, expected eventlog.ExpectedVersion, data []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n%s\n", r.Method, r.URL.Path, expected)
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// keyRecordID is the record id of an Idempotency-Key. The prefix keeps
// clients' keys apart from the ids other writers give their records.
func keyRecordID(key string) string { return "idempotency-key:" + key }

// idempotencyKey is the request's Idempotency-Key, "" if none, or false
// after answering 400.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < ' ' || c > '~' }) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("Idempotency-Key: want at most 255 printable ASCII characters, such as a UUID; got %q", key))
		return "", false
	}
	return key, true
}

// orderID is the request's {id}, or false after answering 400. Ids are made
// by the service; checking their shape also keeps text PostgreSQL cannot
// store (NUL, invalid UTF-8) away from it.
func orderID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	valid := func(c rune) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if id == "" || len(id) > 100 || strings.ContainsFunc(id, func(c rune) bool { return !valid(c) }) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("order id: want up to 100 letters, digits, '-', '_' or '.', such as o-4f0c1e; got %q", id))
		return "", false
	}
	return id, true
}

func (a *ordersAPI) get(w http.ResponseWriter, r *http.Request) {
	id, ok := orderID(w, r)
	if !ok {
		return
	}
	stream := orderStream(id)
	q := r.URL.Query()
	var rec *eventlog.Record
	var err error
	switch {
	case q.Has("version") && q.Has("as_of"):
		writeError(w, http.StatusBadRequest, errors.New("give version or as_of, not both"))
		return
	case q.Has("version"):
		n, perr := strconv.ParseInt(q.Get("version"), 10, 64)
		if perr != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("version: want a positive integer, got %q", q.Get("version")))
			return
		}
		rec, err = a.events.Version(r.Context(), stream, n)
	case q.Has("as_of"):
		t, perr := time.Parse(time.RFC3339Nano, q.Get("as_of"))
		if perr != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("as_of: want an RFC 3339 time such as 2026-11-25T04:00:00Z, got %q", q.Get("as_of")))
			return
		}
		rec, err = a.events.AsOf(r.Context(), stream, t)
	default:
		rec, err = a.events.Latest(r.Context(), stream)
	}
	if err != nil {
		a.writeReadError(w, r, stream, err)
		return
	}
	v, err := view(rec)
	if err != nil {
		serverError(w, r, a.logger, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(v.Version, 10)))
	writeJSON(w, http.StatusOK, v)
}

func (a *ordersAPI) versions(w http.ResponseWriter, r *http.Request) {
	id, ok := orderID(w, r)
	if !ok {
		return
	}
	stream := orderStream(id)
	q := r.URL.Query()
	opts := &eventlog.HistoryOpts{NewestFirst: q.Get("order") == "newest"}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("after: want a version number, got %q", s))
			return
		}
		opts.After = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("limit: want 1 to 1000, got %q", s))
			return
		}
		opts.Limit = n
	}
	page, err := a.events.History(r.Context(), stream, opts)
	if err != nil {
		a.writeReadError(w, r, stream, err)
		return
	}
	if len(page.Records) == 0 && opts.After == 0 {
		a.writeReadError(w, r, stream, eventlog.ErrNotFound)
		return
	}
	out := struct {
		Versions []orderView `json:"versions"`
		Next     int64       `json:"next,omitempty"`
	}{Versions: []orderView{}, Next: page.Next}
	for _, rec := range page.Records {
		v, err := view(rec)
		if err != nil {
			serverError(w, r, a.logger, err)
			return
		}
		out.Versions = append(out.Versions, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// update appends a new version only if the client saw the current one
// (If-Match: <version>), so two editors cannot overwrite each other.
func (a *ordersAPI) update(w http.ResponseWriter, r *http.Request) {
	id, ok := orderID(w, r)
	if !ok {
		return
	}
	ifMatch := strings.Trim(r.Header.Get("If-Match"), `"`)
	if ifMatch == "" {
		writeError(w, http.StatusPreconditionRequired, errors.New("If-Match: required; send the version you read (the ETag of GET /orders/{id})"))
		return
	}
	expected, err := strconv.ParseInt(ifMatch, 10, 64)
	if err != nil || expected < 1 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("If-Match: want a version number, got %q", r.Header.Get("If-Match")))
		return
	}
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var o Order
	if !decodeJSON(w, r, &o) {
		return
	}
	// The new version keeps the import of the version the client read. When
	// that version does not exist the append below refuses the If-Match.
	importID := ""
	switch prev, err := a.events.Version(r.Context(), orderStream(id), expected); {
	case err == nil:
		v, err := view(prev)
		if err != nil {
			serverError(w, r, a.logger, err)
			return
		}
		if v.Order != nil {
			importID = v.Order.ImportID
		}
	case !errors.Is(err, eventlog.ErrNotFound):
		serverError(w, r, a.logger, err)
		return
	}
	if err := o.fromClient(importID); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	a.save(w, r, id, &o, key, eventlog.Exactly(expected), "update")
}

type revertRequest struct {
	ToVersion int64  `json:"to_version"`
	Reason    string `json:"reason"`
	// Expected, when set, is the version the order must still be at.
	Expected int64 `json:"expected_version,omitempty"`
}

func (a *ordersAPI) revert(w http.ResponseWriter, r *http.Request) {
	id, ok := orderID(w, r)
	if !ok {
		return
	}
	stream := orderStream(id)
	var req revertRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.ToVersion < 1 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("to_version: want a version number of at least 1, got %d", req.ToVersion))
		return
	}
	if req.Expected < 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected_version: want a version number, got %d", req.Expected))
		return
	}
	opts := &eventlog.RevertOpts{Reason: req.Reason}
	if req.Expected > 0 {
		opts.Expected = eventlog.Exactly(req.Expected)
	}
	res, err := a.events.Revert(r.Context(), stream, req.ToVersion, opts)
	if err != nil {
		if errors.Is(err, eventlog.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Errorf("order %s has no version %d", stream.ID, req.ToVersion))
			return
		}
		a.writeAppendError(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(res.Version, 10)))
	writeJSON(w, http.StatusOK, map[string]int64{"version": res.Version, "from_version": res.From, "to_version": res.To})
}

func (a *ordersAPI) writeAppendError(w http.ResponseWriter, r *http.Request, err error) {
	var vc *eventlog.VersionConflictError
	switch {
	case errors.As(err, &vc) && vc.Expected == eventlog.NoStream:
		writeError(w, http.StatusConflict, fmt.Errorf("order %s exists already", vc.Stream.ID))
	case errors.As(err, &vc):
		w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(vc.Actual, 10)))
		writeError(w, http.StatusConflict, fmt.Errorf("order %s is at version %d, not %s: read it again and reapply your change", vc.Stream.ID, vc.Actual, vc.Expected))
	case errors.Is(err, eventlog.ErrRecordIDReused):
		writeError(w, http.StatusUnprocessableEntity, errKeyReused)
	default:
		serverError(w, r, a.logger, err)
	}
}

func (a *ordersAPI) writeReadError(w http.ResponseWriter, r *http.Request, stream eventlog.Stream, err error) {
	if errors.Is(err, eventlog.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("order %s: not found", stream.ID))
		return
	}
	serverError(w, r, a.logger, err)
}

// newOrderID derives the id from the idempotency key, so a retry names the
// same order, or draws a random one.
func newOrderID(key string) string {
	if key != "" {
		sum := sha256.Sum256([]byte(key))
		return "o-" + hex.EncodeToString(sum[:10])
	}
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "o-" + hex.EncodeToString(b[:])
}
