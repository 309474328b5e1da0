package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// maxWriterRows caps the streams a writer's pages list; the counts cover
// them all.
const maxWriterRows = 1000

// writersData is "what did build X write since T".
type writersData struct {
	Writer  string
	Since   string // the field as given
	When    time.Time
	Changes []writerChangeRow
	More    bool // more streams follow the maxWriterRows listed
	// Counts of the streams by what a revert would find.
	Open, Reverted, Others int
	// Preview is the since the preview form sends: RFC 3339, so the next
	// page reads the same instant whatever the console's location.
	Preview string
}

type writerChangeRow struct {
	eventlog.WriterChange
	Path string
}

// writersPage lists the streams a writer changed since a time. It only
// reads (one query, through the BRIN index on the record time); the revert
// preview, which tries each stream, is a page of its own.
func (c *Console) writersPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := writersData{Writer: strings.TrimSpace(q.Get("writer")), Since: q.Get("since")}
	if d.Writer == "" {
		return c.render(w, r, "writers.html", "What did a build write", d)
	}
	when, err := c.parseWhen("since", d.Since)
	if err != nil {
		return err
	}
	d.When, d.Preview = when, when.Format(time.RFC3339Nano)
	// One more than the page shows tells whether there are more; each
	// stream listed costs index reads of its own.
	changes, err := c.events.WriterChanges(r.Context(), d.Writer, when, &eventlog.WriterChangesOpts{Limit: maxWriterRows + 1})
	if err != nil {
		return err
	}
	if len(changes) > maxWriterRows {
		changes, d.More = changes[:maxWriterRows], true
	}
	for _, ch := range changes {
		switch {
		case ch.Reverted:
			d.Reverted++
		case len(ch.OtherWriters) > 0:
			d.Others++
		default:
			d.Open++
		}
		d.Changes = append(d.Changes, writerChangeRow{WriterChange: ch, Path: streamPath(ch.Stream)})
	}
	return c.render(w, r, "writers.html", "Written by "+d.Writer, d)
}

// writerRevertData previews reverting everything a writer wrote since a
// time: RevertWriter's dry run, stream by stream.
type writerRevertData struct {
	Writer    string
	When      time.Time
	Since     string // RFC 3339, for the confirm form
	Force     bool
	Rows      []writerRevertRow
	Hidden    int
	Reverting int
	Skipped   int
	Back      string // the writer's listing
	WithForce string // this preview with force
	Form      *actionForm
}

type writerRevertRow struct {
	eventlog.StreamRevert
	Path string
}

// writerRevertFields reads the writer, since and force fields of the preview and
// the confirm form alike.
func (c *Console) writerRevertFields(get func(string) string) (writer string, since time.Time, force bool, err error) {
	writer = strings.TrimSpace(get("writer"))
	if writer == "" {
		return "", time.Time{}, false, badRequest("give the writer whose records to revert: the Writer shown on each version (the build's VCS revision by default)")
	}
	since, err = c.parseWhen("since", get("since"))
	if err != nil {
		return "", time.Time{}, false, err
	}
	switch f := get("force"); f {
	case "", "0", "false", "off":
	case "1", "true", "on":
		force = true
	default:
		return "", time.Time{}, false, badRequest("force %q: give 1 to discard other writers' later changes too, or leave it out", f)
	}
	return writer, since, force, nil
}

// writerRevertPage runs RevertWriter as a dry run: which streams would be
// reverted, and which skipped and why. It tries each stream in a
// transaction of its own that is rolled back, so it costs a little per
// stream the writer changed.
func (c *Console) writerRevertPage(w http.ResponseWriter, r *http.Request) error {
	if c.cfg.Token == "" {
		return forbidden("this console is read-only: start it with a token (seatbelt console --token, or Config.Token) to revert a writer's records")
	}
	writer, since, force, err := c.writerRevertFields(r.URL.Query().Get)
	if err != nil {
		return err
	}
	rep, err := c.events.RevertWriter(r.Context(), writer, since, &eventlog.RevertWriterOpts{Force: force, DryRun: true, Actor: actor(r)})
	if err != nil {
		return err
	}
	sinceParam := since.Format(time.RFC3339Nano)
	d := writerRevertData{
		Writer: writer, When: since, Since: sinceParam, Force: force,
		Reverting: rep.Reverted(), Skipped: len(rep.SkippedStreams()),
		Back:      withQuery("/events/writers", "writer", writer, "since", sinceParam),
		WithForce: withQuery("/events/writers/revert", "writer", writer, "since", sinceParam, "force", "1"),
	}
	for i, s := range rep.Streams {
		if i == maxWriterRows {
			break
		}
		d.Rows = append(d.Rows, writerRevertRow{StreamRevert: s, Path: streamPath(s.Stream)})
	}
	d.Hidden = len(rep.Streams) - len(d.Rows)
	if d.Reverting > 0 {
		// The preview's moment: the revert skips a stream written after it
		// rather than revert more than the operator saw.
		fields := map[string]string{"writer": writer, "since": sinceParam, "seen": rep.At.Format(time.RFC3339Nano)}
		if force {
			fields["force"] = "1"
		}
		d.Form = c.form(r, "/events/writers/revert", fmt.Sprintf("Revert %d streams", d.Reverting), true, fields)
	}
	return c.render(w, r, "writers_revert.html", "Revert what "+writer+" wrote", d)
}

// revertWriter reverts what the preview showed: a stream with a version
// written after the preview (its seen field) is skipped as changed since,
// whoever wrote it, and force discards only the other writers' changes the
// preview listed.
func (c *Console) revertWriter(w http.ResponseWriter, r *http.Request) error {
	writer, since, force, err := c.writerRevertFields(r.PostFormValue)
	if err != nil {
		return err
	}
	seen, err := time.Parse(time.RFC3339Nano, r.PostFormValue("seen"))
	if err != nil {
		return badRequest("the form lacks the preview's moment (seen): open the preview and confirm from there")
	}
	rep, err := c.events.RevertWriter(r.Context(), writer, since, &eventlog.RevertWriterOpts{
		Force: force, Actor: actor(r), Reason: r.PostFormValue("reason"), Seen: seen,
	})
	if err != nil {
		n := 0
		if rep != nil {
			n = rep.Reverted()
		}
		return fmt.Errorf("console: reverted %d streams written by %s, then: %w; run the revert again: it only touches what is left", n, writer, err)
	}
	skipped := len(rep.SkippedStreams())
	c.log.Info("console: reverted a writer", "writer", writer, "since", since, "force", force,
		"reverted", rep.Reverted(), "skipped", skipped, "actor", actor(r))
	msg := fmt.Sprintf("Reverted %d streams written by %s since %s.", rep.Reverted(), writer, since.In(c.cfg.Location).Format(shownLayout))
	if skipped > 0 {
		msg += fmt.Sprintf(" Skipped %d (already reverted, changed afterwards by another writer, or changed since the preview): open the preview again to see each reason.", skipped)
	}
	return c.done(w, r, withQuery("/events/writers", "writer", writer, "since", since.Format(time.RFC3339Nano)), msg)
}
