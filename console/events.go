package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// The event log pages. A stream's id may hold slashes, so the stream is
// the rest of the path, and its revert lives under a path of its own
// (/events/revert/...) rather than after the id, where it could be part of
// an id.
func (c *Console) routeEvents() {
	c.mux.Handle("GET /events", c.page(c.eventsPage))
	c.mux.Handle("GET /events/types/{type}", c.page(c.typePage))
	c.mux.Handle("GET /events/streams/{type}/{id...}", c.page(c.streamPage))
	c.mux.Handle("GET /events/revert/{type}/{id...}", c.page(c.streamRevertPage))
	c.mux.Handle("POST /events/revert/{type}/{id...}", c.action(c.revertStream))
	c.mux.Handle("GET /events/writers", c.page(c.writersPage))
	c.mux.Handle("GET /events/writers/revert", c.page(c.writerRevertPage))
	c.mux.Handle("POST /events/writers/revert", c.action(c.revertWriter))
}

// Page sizes. A stream's page shows each version with its diff; a type's
// page is a plain list.
const (
	streamPageSize   = 20
	categoryPageSize = 50
	maxTypesListed   = 100
)

// streamPath is the console path of a stream's page, each part escaped so
// an id's slashes survive as one segment.
func streamPath(s eventlog.Stream) string {
	return "/events/streams/" + url.PathEscape(s.Type) + "/" + url.PathEscape(s.ID)
}

// revertPath is the console path of a stream's revert preview (GET) and
// revert (POST).
func revertPath(s eventlog.Stream) string {
	return "/events/revert/" + url.PathEscape(s.Type) + "/" + url.PathEscape(s.ID)
}

func typePath(typ string) string { return "/events/types/" + url.PathEscape(typ) }

// pathStream reads the stream of a /events/streams or /events/revert path.
func pathStream(r *http.Request) (eventlog.Stream, error) {
	st := eventlog.Stream{Type: r.PathValue("type"), ID: r.PathValue("id")}
	// ParseStream checks the names, but splits at the first slash, so a
	// type holding one (escaped in the path) is taken as it came.
	if strings.Contains(st.Type, "/") {
		if st.ID == "" {
			return st, badRequest("stream %q has no id: a stream is type/id", st.Type)
		}
		return st, nil
	}
	if _, err := eventlog.ParseStream(st.String()); err != nil {
		return st, badRequest("%v", err)
	}
	return st, nil
}

// consoleLayouts are the forms a time field takes besides RFC 3339, read in
// Config.Location: what an operator types, what a datetime-local input
// sends, and what the pages show (so a time can be copied from one).
var consoleLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"2006-01-02", // midnight, as the jobs filter reads a date
}

const shownLayout = "2006-01-02 15:04:05 MST"

// parseWhen reads the time field named field; a missing or bad one is a
// 400 saying the forms it takes.
func (c *Console) parseWhen(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	forms := fmt.Sprintf("RFC 3339 (2026-03-01T04:45:00Z) or %q in %s", "2026-03-01 04:45", c.cfg.Location)
	if s == "" {
		return time.Time{}, badRequest("give %s as %s", field, forms)
	}
	if t, ok := c.readTime(s); ok {
		return t, nil
	}
	return time.Time{}, badRequest("%s %q is not a time: give %s", field, s, forms)
}

// readTime reads a time field of any page: RFC 3339 with its own zone, or
// one of consoleLayouts in Config.Location, or a time as the pages show it.
func (c *Console) readTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	for _, l := range consoleLayouts {
		if t, err := time.ParseInLocation(l, s, c.cfg.Location); err == nil {
			return t, true
		}
	}
	// A zone abbreviation the location does not use parses as UTC under
	// that name; writing the time back tells the two apart.
	if t, err := time.ParseInLocation(shownLayout, s, c.cfg.Location); err == nil && t.In(c.cfg.Location).Format(shownLayout) == s {
		return t, true
	}
	return time.Time{}, false
}

// eventlogError turns the event log's refusals into what the operator sees:
// a bad name is a 400, something missing a 404, a stream that moved a 409.
func eventlogError(err error) error {
	var vc *eventlog.VersionConflictError
	switch {
	case errors.As(err, &vc):
		return conflict("%s moved on: it is at version %d now, not %s as when you looked; nothing was written. Look at the stream again and decide from there.",
			vc.Stream, vc.Actual, vc.Expected)
	case errors.Is(err, eventlog.ErrBadStream):
		return badRequest("%v", err)
	case errors.Is(err, eventlog.ErrNotFound):
		return notFound("%v", err)
	}
	return err
}

// eventsData is the event log's front page.
type eventsData struct {
	Stream, Type, ID string // the find form as given
	FindError        string
	Consumers        []consumerRow
	Types            []typeLink
	MoreTypes        bool
}

type consumerRow struct {
	eventlog.ConsumerStatus
	Lag time.Duration
}

type typeLink struct{ Name, Path string }

// eventsPage finds a stream by name, lists the consumers and the stream
// types, and starts "what did build X write".
func (c *Console) eventsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := eventsData{Stream: q.Get("stream"), Type: q.Get("type"), ID: q.Get("id")}
	status := http.StatusOK
	if d.Stream != "" || d.Type != "" || d.ID != "" {
		st, err := c.findStream(r.Context(), d.Stream, d.Type, d.ID)
		if err == nil {
			http.Redirect(w, r, c.link(streamPath(st)), http.StatusSeeOther)
			return nil
		}
		d.FindError, status = err.Error(), http.StatusBadRequest
	}
	cs, err := c.events.Consumers(r.Context())
	if err != nil {
		return err
	}
	for _, s := range cs {
		d.Consumers = append(d.Consumers, consumerRow{ConsumerStatus: s, Lag: time.Duration(s.LagSeconds * float64(time.Second))})
	}
	types, err := c.streamTypes(r, maxTypesListed+1)
	if err != nil {
		return err
	}
	if len(types) > maxTypesListed {
		types, d.MoreTypes = types[:maxTypesListed], true
	}
	for _, t := range types {
		d.Types = append(d.Types, typeLink{Name: t, Path: typePath(t)})
	}
	return c.renderStatus(w, r, status, "events.html", "Event log", d)
}

// findStream reads the find form: "type/id" in one field, the stream of
// the log it names (a type may hold a slash, as an id may: see
// eventlog's FindStream), or the type and the id in their own fields.
func (c *Console) findStream(ctx context.Context, whole, typ, id string) (eventlog.Stream, error) {
	if whole == "" {
		st := eventlog.Stream{Type: strings.TrimSpace(typ), ID: strings.TrimSpace(id)}
		return st, st.Check()
	}
	st, err := c.events.FindStream(ctx, strings.TrimSpace(whole))
	if _, ok := errors.AsType[*eventlog.AmbiguousStreamError](err); ok {
		return st, fmt.Errorf("%w; give the type and the id in their own fields", err)
	}
	return st, err
}

// streamTypes lists up to limit stream types in order. Each is one descent
// of the (stream_type, stream_id, version) index to the next type (a loose
// index scan), so the cost follows the number of types, not of records.
func (c *Console) streamTypes(r *http.Request, limit int) ([]string, error) {
	rows, err := c.db.Query(r.Context(), `
WITH RECURSIVE t(typ) AS (
	(SELECT stream_type FROM eventlog_records ORDER BY stream_type LIMIT 1)
	UNION ALL
	SELECT (SELECT e.stream_type FROM eventlog_records e WHERE e.stream_type > t.typ ORDER BY e.stream_type LIMIT 1)
	FROM t WHERE t.typ IS NOT NULL
)
SELECT typ FROM t WHERE typ IS NOT NULL LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("console: listing the stream types: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("console: listing the stream types: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("console: listing the stream types: %w", err)
	}
	return out, nil
}

// typeData is a page of one stream type's records in the consumers' order.
type typeData struct {
	Type     string
	Records  []recordRow
	After    string // the cursor this page started after, "" at the start
	Start    string // the first page's link
	Next     string // the following page's link, "" when there is none
	HeldBack bool
}

type recordRow struct {
	*eventlog.Record
	Path string // the stream's page
}

// typePage is the category read: every record of one type, oldest
// transaction first, a page at a time after a "txid:position" cursor.
func (c *Console) typePage(w http.ResponseWriter, r *http.Request) error {
	typ := r.PathValue("type")
	d := typeData{Type: typ, After: r.URL.Query().Get("after"), Start: typePath(typ)}
	after, err := parseCursor(d.After)
	if err != nil {
		return err
	}
	page, err := c.events.ReadCategory(r.Context(), typ, &eventlog.CategoryOpts{After: after, Limit: categoryPageSize})
	if err != nil {
		return eventlogError(err)
	}
	if len(page.Records) == 0 && d.After == "" && !page.HeldBack {
		return notFound("no record of type %q: check the type (types are case-sensitive); the event log page lists them", typ)
	}
	for _, rec := range page.Records {
		d.Records = append(d.Records, recordRow{Record: rec, Path: streamPath(rec.Stream)})
	}
	if page.More {
		d.Next = withQuery(d.Start, "after", formatCursor(page.Next))
	}
	d.HeldBack = page.HeldBack
	return c.render(w, r, "events_type.html", "Type "+typ, d)
}

// parseCursor reads an eventlog.Cursor written "txid:position".
func parseCursor(s string) (eventlog.Cursor, error) {
	if s == "" {
		return eventlog.Cursor{}, nil
	}
	tx, pos, ok := strings.Cut(s, ":")
	txid, err1 := strconv.ParseUint(tx, 10, 64)
	p, err2 := strconv.ParseInt(pos, 10, 64)
	if !ok || err1 != nil || err2 != nil || p < 0 {
		return eventlog.Cursor{}, badRequest("after %q is not a cursor: give txid:position (e.g. 1234:5678) from a page's next link, or leave it out to start at the beginning", s)
	}
	return eventlog.Cursor{TxID: txid, Position: p}, nil
}

func formatCursor(c eventlog.Cursor) string {
	return strconv.FormatUint(c.TxID, 10) + ":" + strconv.FormatInt(c.Position, 10)
}
