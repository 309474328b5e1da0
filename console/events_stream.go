package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// streamData is a stream's page: its versions newest first, each with what
// changed, and optionally the version current at a moment.
type streamData struct {
	Stream   eventlog.Stream
	Path     string
	TypePath string
	Current  *eventlog.Record
	Versions []versionRow
	Older    string // the next page's link, "" on the last
	Newest   string // the first page's link, "" on the first
	At       string // the as-of field as given
	AsOf     *eventlog.Record
	AsOfLink string // the page that starts at AsOf
	AsOfWhen time.Time
	NotYet   string // why AsOf is nil when At is set
}

// versionRow is one version with what changed from the one before it.
type versionRow struct {
	*eventlog.Record
	Changes   []jsonChange
	DiffError string
	First     bool   // no earlier version: the data is shown whole
	Revert    string // the revert preview of this version, "" if none
}

func (c *Console) streamPage(w http.ResponseWriter, r *http.Request) error {
	st, err := pathStream(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var after int64
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 1 {
			return badRequest("after %q is not a version: give the version the page starts below, e.g. after=21, or leave it out for the newest", s)
		}
	}
	ctx := r.Context()
	cur, err := c.events.Latest(ctx, st)
	if errors.Is(err, eventlog.ErrNotFound) {
		return notFound("no stream %s: nothing was ever written to it. Check the type and the id (both are case-sensitive), or find it through its type's page", st)
	}
	if err != nil {
		return eventlogError(err)
	}
	d := streamData{Stream: st, Path: streamPath(st), TypePath: typePath(st.Type), Current: cur, At: q.Get("at")}
	if d.At != "" {
		if err := c.asOf(r, &d); err != nil {
			return err
		}
	}
	// One version more than the page shows: the last row's diff needs the
	// version before it.
	h, err := c.events.History(ctx, st, &eventlog.HistoryOpts{NewestFirst: true, After: after, Limit: streamPageSize + 1})
	if err != nil {
		return eventlogError(err)
	}
	recs := h.Records
	for i := 0; i < len(recs) && i < streamPageSize; i++ {
		row := versionRow{Record: recs[i]}
		if i+1 < len(recs) {
			row.Changes, err = diffJSON(recs[i+1].Data, recs[i].Data)
			if err != nil {
				row.DiffError = err.Error()
			}
		} else {
			row.First = true
		}
		if c.cfg.Token != "" && recs[i].Version < cur.Version {
			row.Revert = revertPath(st) + "?to=" + strconv.FormatInt(recs[i].Version, 10)
		}
		d.Versions = append(d.Versions, row)
	}
	if n := len(d.Versions); n > 0 && d.Versions[n-1].Version > 1 {
		d.Older = d.pageLink(d.Versions[n-1].Version)
	}
	if after != 0 {
		d.Newest = d.pageLink(0)
	}
	return c.render(w, r, "stream.html", st.String(), d)
}

// pageLink is the stream's page starting below version after (0: the
// newest), keeping the as-of field.
func (d *streamData) pageLink(after int64) string {
	a := ""
	if after > 0 {
		a = strconv.FormatInt(after, 10)
	}
	return withQuery(d.Path, "at", d.At, "after", a)
}

// asOf fills in the version current at the page's at field.
func (c *Console) asOf(r *http.Request, d *streamData) error {
	t, err := c.parseWhen("at", d.At)
	if err != nil {
		return err
	}
	d.AsOfWhen = t
	rec, err := c.events.AsOf(r.Context(), d.Stream, t)
	if errors.Is(err, eventlog.ErrNotFound) {
		first, ferr := c.events.Version(r.Context(), d.Stream, 1)
		if ferr != nil {
			return eventlogError(ferr)
		}
		d.NotYet = fmt.Sprintf("%s did not exist yet at %s: its first version was written at %s.",
			d.Stream, t.In(c.cfg.Location).Format(shownLayout), first.Time.In(c.cfg.Location).Format(shownLayout))
		return nil
	}
	if err != nil {
		return eventlogError(err)
	}
	d.AsOf = rec
	d.AsOfLink = d.pageLink(rec.Version+1) + "#v" + strconv.FormatInt(rec.Version, 10)
	return nil
}

// withQuery is p with the pairs whose value is set as its query.
func withQuery(p string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

// revertData previews a stream's revert: what would be written, against
// what is there now, and the form that confirms it.
type revertData struct {
	Stream   eventlog.Stream
	Path     string
	From, To int64
	// NewVersion is the version the revert would append.
	NewVersion int64
	Current    *eventlog.Record
	Target     *eventlog.Record // nil when To is 0: the entity did not exist
	Data       json.RawMessage
	Changes    []jsonChange
	Form       *actionForm
}

// streamRevertPage previews reverting a stream to ?to=N: the revert runs
// as a dry run, so the preview is what the revert itself would write.
func (c *Console) streamRevertPage(w http.ResponseWriter, r *http.Request) error {
	if c.cfg.Token == "" {
		return forbidden("this console is read-only: start it with a token (seatbelt console --token, or Config.Token) to revert streams")
	}
	st, err := pathStream(r)
	if err != nil {
		return err
	}
	to, err := formVersion(r.URL.Query().Get("to"), "to", "the version to revert to")
	if err != nil {
		return err
	}
	ctx := r.Context()
	res, err := c.events.Revert(ctx, st, to, &eventlog.RevertOpts{DryRun: true, Actor: actor(r)})
	if err != nil {
		return eventlogError(err)
	}
	d := revertData{Stream: st, Path: streamPath(st), From: res.From, To: res.To, NewVersion: res.Version, Data: res.Data}
	if d.Current, err = c.events.Version(ctx, st, res.From); err != nil {
		return eventlogError(err)
	}
	if to > 0 {
		if d.Target, err = c.events.Version(ctx, st, to); err != nil {
			return eventlogError(err)
		}
	}
	if d.Changes, err = diffJSON(d.Current.Data, res.Data); err != nil {
		return fmt.Errorf("console: comparing version %d of %s with version %d: %w", res.From, st, to, err)
	}
	d.Form = c.form(r, revertPath(st), fmt.Sprintf("Revert to version %d", to), true, map[string]string{
		"to":       strconv.FormatInt(to, 10),
		"expected": strconv.FormatInt(res.From, 10),
	})
	return c.render(w, r, "stream_revert.html", "Revert "+st.String(), d)
}

// revertStream appends the revert the preview showed, only if the stream
// is still at the version the preview was made against.
func (c *Console) revertStream(w http.ResponseWriter, r *http.Request) error {
	st, err := pathStream(r)
	if err != nil {
		return err
	}
	to, err := formVersion(r.PostFormValue("to"), "to", "the version to revert to")
	if err != nil {
		return err
	}
	expected, err := formVersion(r.PostFormValue("expected"), "expected", "the version the stream was at when you previewed the revert")
	if err != nil {
		return err
	}
	if expected < 1 {
		return badRequest("expected is 0: give the version the stream was at when you previewed the revert; open the preview again")
	}
	reason := r.PostFormValue("reason")
	if reason == "" {
		reason = fmt.Sprintf("revert to version %d", to)
	}
	res, err := c.events.Revert(r.Context(), st, to, &eventlog.RevertOpts{Expected: eventlog.Exactly(expected), Actor: actor(r), Reason: reason})
	if err != nil {
		return eventlogError(err)
	}
	c.log.Info("console: reverted a stream", "stream", st.String(), "to", to, "from", res.From, "version", res.Version, "actor", actor(r), "reason", reason)
	return c.done(w, r, streamPath(st), fmt.Sprintf("Reverted %s to version %d: version %d is a copy of it.", st, to, res.Version))
}

// formVersion reads a version number field; what names it in the message.
func formVersion(s, field, what string) (int64, error) {
	if s == "" {
		return 0, badRequest("give %s as %s=N", what, field)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("%s %q is not a version: give %s as a number, e.g. %s=3", field, s, what, field)
	}
	return n, nil
}
