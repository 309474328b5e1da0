package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/robfig/cron/v3"
)

// Schedule says when a periodic job is due: [Cron] or [Every].
type Schedule interface {
	// Next returns the first slot after t.
	Next(t time.Time) time.Time
	// String is the schedule as written; a client that finds another
	// string in the database knows the schedule changed.
	String() string
}

// cronParser takes five fields or six (seconds first), and the
// descriptors (@hourly, @daily ...; Cron reads @every itself).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

type cronSchedule struct {
	spec  string
	sched cron.Schedule
}

func (s cronSchedule) Next(t time.Time) time.Time { return s.sched.Next(t) }
func (s cronSchedule) String() string             { return s.spec }

// Cron parses a cron expression: five fields (minute hour day-of-month
// month day-of-week), or six with seconds first, or a descriptor such as
// @hourly or @daily. It is evaluated in the PeriodicJob's Location, so a
// TZ= or CRON_TZ= prefix, which would silently override it, is refused.
// "@every 90s" has the slots of [Every]: multiples of the interval since
// the Unix epoch, the same on every replica, rather than the interval
// after each run, which drifts by the time taken to notice a slot. Its
// interval is taken as written ("@every 1500ms" is a second and a half),
// and refused, as Every's, below a second or in fractions of a
// microsecond.
func Cron(spec string) (Schedule, error) {
	if t := strings.TrimSpace(spec); strings.HasPrefix(t, "TZ=") || strings.HasPrefix(t, "CRON_TZ=") {
		return nil, fmt.Errorf("jobs: cron expression %q names a time zone; remove the prefix and set PeriodicJob.Location, which says where the expression is read", spec)
	}
	// Read here, not by the cron package, which truncates the interval
	// to whole seconds (and raises one below a second to a second): a
	// schedule of 1500ms would run every second.
	if text, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(text)
		if err == nil {
			err = checkInterval(d)
		}
		if err != nil {
			return nil, fmt.Errorf("jobs: cron expression %q: %w (want an interval such as \"@every 90s\")", spec, err)
		}
		return cronSchedule{spec: spec, sched: every(d)}, nil
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("jobs: cron expression %q: %w (want \"minute hour day month weekday\", seconds first optional, or @hourly/@daily/@weekly)", spec, err)
	}
	return cronSchedule{spec: spec, sched: s}, nil
}

// MustCron is [Cron] for expressions fixed in the code; it panics on a bad
// one.
func MustCron(spec string) Schedule {
	s, err := Cron(spec)
	if err != nil {
		panic(err)
	}
	return s
}

type every time.Duration

// Every is a schedule with a slot at each multiple of d since the Unix
// epoch, so every replica computes the same slots. d must be at least one
// second and a whole number of microseconds (AddPeriodic refuses another).
func Every(d time.Duration) Schedule { return every(d) }

// checkInterval says why d cannot be the interval of an Every schedule.
// Slots are stored to the microsecond: a slot between two microseconds
// would be stored a little early, and the schedule's next slot after that
// is the exact one again, so it would fire twice.
func checkInterval(d time.Duration) error {
	switch {
	case d < time.Second:
		return fmt.Errorf("the interval is %v; the shortest is one second", d)
	case d%time.Microsecond != 0:
		return fmt.Errorf("the interval is %v; give a whole number of microseconds, as slots are stored to the microsecond", d)
	}
	return nil
}

func (e every) Next(t time.Time) time.Time {
	d := time.Duration(e)
	if d <= 0 {
		return time.Time{}
	}
	return time.Unix(0, 0).Add(t.Sub(time.Unix(0, 0)).Truncate(d) + d).In(t.Location())
}

func (e every) String() string { return "every " + time.Duration(e).String() }

// Missed says what a periodic job does about slots that passed while no
// client was running it (every replica down, or a deploy that took
// longer than a slot). A slot that came due while a client ran but could
// not enqueue it in time (the database down, the schedule's row locked)
// is late, not missed: it runs once, late, under either policy.
type Missed int

const (
	// MissedSkip skips them: the job runs again at its next slot.
	MissedSkip Missed = iota
	// MissedRunOnce runs the job once, at start, for all of them (its
	// unique key names the first missed slot), then keeps its schedule;
	// not when a slot on time runs at that start anyway.
	MissedRunOnce
)

func (m Missed) String() string {
	if m == MissedRunOnce {
		return "run-once"
	}
	return "skip"
}

// PeriodicJob is a job enqueued at each slot of a schedule; see
// [Client.AddPeriodic].
type PeriodicJob struct {
	// Name identifies the schedule and its slots across replicas and
	// deploys; keep it when the schedule changes. Defaults to Kind.
	Name string
	// Kind is the kind of the jobs enqueued. Required. A client that
	// does not run the kind still enqueues it, for those that do.
	Kind string
	// Args are every job's args, encoded as JSON. Defaults to {}.
	Args any
	// Queue and Priority of the jobs. Default to [DefaultQueue] and 0.
	Queue    string
	Priority int16
	// Schedule is when the jobs are due: [Cron] or [Every]. Required.
	Schedule Schedule
	// Location is the time zone a Cron schedule is read in. Defaults to
	// UTC. Give every replica the same zone by name
	// (time.LoadLocation("Europe/Berlin")), never time.Local, which is each
	// machine's own. In a zone with daylight saving time, a slot in the
	// hour the clocks repeat runs twice and one in the hour they skip does
	// not run: schedule such times in UTC.
	Location *time.Location
	// Missed is what happens to slots that passed while no client ran
	// the schedule. Defaults to MissedSkip.
	Missed Missed
}

// onTime is how late a slot may be handled and still count as on time
// rather than missed: each client looks every PeriodicInterval, so a
// later one means no client was running.
func (c *Client) onTime() time.Duration { return max(5*time.Second, 3*c.cfg.PeriodicInterval) }

type periodicReg struct {
	PeriodicJob
	spec string // what the row's schedule column holds for this schedule
	args string
	// deferred is set once the client has logged that a newer schedule
	// runs this name, so it says it once.
	deferred bool
	// While deferring: the stored checked_at last read, when this client
	// first read that value, and when it last looked (the last two by its
	// clock). See storedRuns.
	seen, seenAt, looked time.Time
}

// checkEvery is how often the clients running a stored schedule say so
// (refreshSQL): half their on-time window.
func (c *Client) checkEvery() time.Duration { return c.onTime() / 2 }

// storedRuns reports whether some client runs the stored schedule, which
// is not p's. Those clients set the row's checked_at every check_every,
// on the database's clock. It runs while checked_at is younger than the
// window (four check_everys, at least two of this client's on-time
// windows), by the database's clock, so the clients' clocks need not
// agree; or while this client has not yet watched it stand still for a
// window, looking all along: looks further apart than the on-time window
// (this client frozen, the database unreachable, a test's clock moved by
// hand) start the watch again, so that after an outage the other clients
// get a window to say they live.
func (c *Client) storedRuns(p *periodicReg, row periodicRow, now time.Time) bool {
	window := 2 * c.onTime()
	if row.checkEvery != nil {
		window = max(window, time.Duration(4**row.checkEvery*float64(time.Second)))
	}
	var checked time.Time
	if row.checked != nil {
		checked = *row.checked
	}
	if !checked.Equal(p.seen) || now.Sub(p.looked) > c.onTime() {
		p.seen, p.seenAt = checked, now
	}
	p.looked = now
	// A negative age is a checked_at in the future: the database's clock
	// stepped back. It does not count, until a refresh sets it right.
	fresh := row.checkedAge != nil && *row.checkedAge >= 0 && *row.checkedAge <= window.Seconds()
	return fresh || now.Sub(p.seenAt) <= window
}

func (p *periodicReg) next(t time.Time) time.Time {
	return p.Schedule.Next(t.In(p.Location))
}

// AddPeriodic has the client enqueue p.Kind at every slot of p.Schedule.
// Call it before Start. Every replica that adds the same schedule takes
// part, and each slot gets exactly one job: the job is enqueued in the
// transaction that records the slot as handled, under the schedule's row
// lock in seatbelt_jobs_periodic, so neither two replicas nor a restart
// can double it. A new schedule starts at its next slot, without
// backfill. A client started later with another schedule (or Kind,
// Queue, Priority, Args, Location, Missed) under the same Name (a new
// build) replaces the stored one at its first look, and the
// older clients still running defer to it, so a changed schedule holds
// from the deploy on without both firing. The clients running the stored
// schedule say so every half on-time window (its row's checked_at, on the
// database's clock; a window is max(5 s, 3×PeriodicInterval)); when none
// has for four of their halves, and at least two of the older client's own
// windows while it watched, because that build was rolled back or its last
// replica is gone, the older client takes the name back. Each job's
// UniqueKey is "periodic:<Name>:<slot>", so the slot shows in listings.
func (c *Client) AddPeriodic(p PeriodicJob) error {
	if p.Name == "" {
		p.Name = p.Kind
	}
	var errs []error
	if p.Kind == "" {
		errs = append(errs, errors.New("PeriodicJob.Kind is empty; give the kind its jobs are enqueued as"))
	} else if err := checkText("PeriodicJob.Kind", p.Kind, MaxNameLen, "MaxNameLen"); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("PeriodicJob.Name", p.Name, MaxNameLen, "MaxNameLen"); err != nil && p.Name != p.Kind {
		errs = append(errs, err)
	}
	if p.Schedule == nil {
		errs = append(errs, errors.New("PeriodicJob.Schedule is nil; give jobs.Cron(\"0 3 * * *\") or jobs.Every(time.Hour)"))
	} else if e, ok := p.Schedule.(every); ok {
		if err := checkInterval(time.Duration(e)); err != nil {
			errs = append(errs, fmt.Errorf("PeriodicJob.Schedule is Every(%v): %w", time.Duration(e), err))
		}
	}
	if p.Missed != MissedSkip && p.Missed != MissedRunOnce {
		errs = append(errs, fmt.Errorf("PeriodicJob.Missed is %d; use jobs.MissedSkip or jobs.MissedRunOnce", p.Missed))
	}
	if p.Queue == "" {
		p.Queue = DefaultQueue
	} else if err := CheckQueueName(p.Queue); err != nil {
		errs = append(errs, fmt.Errorf("PeriodicJob.Queue: %w", err))
	}
	if p.Location == nil {
		p.Location = time.UTC
	}
	if p.Schedule != nil {
		now := time.Now().In(p.Location)
		if next := p.Schedule.Next(now); !next.After(now) {
			errs = append(errs, fmt.Errorf("PeriodicJob.Schedule %q has no slot after now (a date that never comes, such as February 30); fix the expression", p.Schedule))
		}
	}
	args, err := encodeArgs(p.Args)
	if err != nil {
		errs = append(errs, fmt.Errorf("PeriodicJob.Args: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: periodic job %q: %w", ErrInvalidConfig, p.Name, errors.Join(errs...))
	}
	reg := &periodicReg{PeriodicJob: p, args: args, spec: periodicSpec(p, args)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != clientNew {
		return fmt.Errorf("%w: AddPeriodic(%q) after Start; add every periodic job before starting the client", ErrInvalidConfig, p.Name)
	}
	for _, q := range c.periodic {
		if q.Name == p.Name {
			return fmt.Errorf("%w: periodic job %q added twice; give each schedule its own Name", ErrInvalidConfig, p.Name)
		}
	}
	c.periodic = append(c.periodic, reg)
	return nil
}

// periodicSpec is what the schedule's row holds for p: everything a new
// build may change about its jobs, so that a change makes the older
// clients defer (see periodicAction) instead of both builds firing, each
// its own way. Args are shown by their hash: they may hold a token, and
// the description is logged and listed.
func periodicSpec(p PeriodicJob, args string) string {
	spec := fmt.Sprintf("%s (%s, missed: %s, kind %s, queue %s", p.Schedule, p.Location, p.Missed, p.Kind, p.Queue)
	if p.Priority != 0 {
		spec += fmt.Sprintf(", priority %d", p.Priority)
	}
	if args != "{}" {
		sum := sha256.Sum256([]byte(args))
		spec += ", args sha256:" + hex.EncodeToString(sum[:8])
	}
	return spec + ")"
}

// periodicLoop looks at the client's schedules every PeriodicInterval and
// enqueues the slots that are due.
func (c *Client) periodicLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.PeriodicInterval)
	defer t.Stop()
	names := make([]string, len(c.periodic))
	for i, p := range c.periodic {
		names[i] = p.Name
	}
	for {
		if err := c.lookAtPeriodic(ctx, names); err != nil && ctx.Err() == nil {
			c.log.Error("jobs: periodic jobs: looking for due slots failed; trying again", "err", err, "in", c.cfg.PeriodicInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// periodicRow is a schedule's row in seatbelt_jobs_periodic: the
// periodicColumns, which dest scans.
type periodicRow struct {
	schedule   string
	from, next time.Time
	lastSlot   *time.Time
	// checked is the row's checked_at; checkedAge its age in seconds and
	// checkEvery its check_every in seconds, on the database's clock.
	checked                *time.Time
	checkedAge, checkEvery *float64
	exists                 bool
}

const periodicColumns = `schedule, schedule_from, next_slot, last_slot, checked_at,
	extract(epoch FROM clock_timestamp() - checked_at)::float8, extract(epoch FROM check_every)::float8`

func (r *periodicRow) dest() []any {
	return []any{&r.schedule, &r.from, &r.next, &r.lastSlot, &r.checked, &r.checkedAge, &r.checkEvery}
}

// periodicAction is what a client does about one of its schedules.
type periodicAction int

const (
	periodicNothing  periodicAction = iota // not due
	periodicRefresh                        // not due; say the schedule runs
	periodicDefer                          // a newer client's schedule holds
	periodicInsert                         // no row yet
	periodicReplace                        // store this client's schedule: it started later
	periodicTakeOver                       // store this client's schedule: nobody runs the stored one
	periodicFire                           // enqueue the due slots
)

func (c *Client) periodicAction(p *periodicReg, row periodicRow, now time.Time) periodicAction {
	switch {
	case !row.exists:
		return periodicInsert
	case row.schedule != p.spec:
		// The newer client's schedule holds (a new build, deployed), as
		// long as some client runs it. When none does (that build was
		// rolled back, or its last replica is gone), this one takes the
		// name back within a window or two, not at the stored schedule's
		// next slot, which may be a day away.
		switch {
		case c.startedAt.After(row.from):
			return periodicReplace
		case c.storedRuns(p, row, now):
			return periodicDefer
		}
		return periodicTakeOver
	case row.next.After(now):
		if row.checkedAge == nil || *row.checkedAge < 0 || *row.checkedAge >= c.checkEvery().Seconds() {
			return periodicRefresh
		}
		return periodicNothing
	}
	return periodicFire
}

// checkedSQL is the SET of checked_at and check_every ($n seconds) that
// says a client runs the row's schedule as stored.
func checkedSQL(n int) string {
	return fmt.Sprintf("checked_at = clock_timestamp(), check_every = make_interval(secs => $%d::float8)", n)
}

// refreshSQL says that clients run schedules $1 as stored ($2), every $3
// seconds, for the clients deferring to them (see storedRuns); unless
// another client said so within those seconds. A row another client has
// locked is skipped: that client is writing it.
var refreshSQL = `UPDATE seatbelt_jobs_periodic p SET ` + checkedSQL(3) + `
FROM (SELECT s.name FROM seatbelt_jobs_periodic s JOIN unnest($1::text[], $2::text[]) AS u(name, schedule) ON s.name = u.name AND s.schedule = u.schedule
	WHERE s.checked_at IS NULL OR s.checked_at < clock_timestamp() - make_interval(secs => $3::float8) OR s.checked_at > clock_timestamp()
	FOR UPDATE OF s SKIP LOCKED) l
WHERE p.name = l.name`

// lookAtPeriodic reads the client's schedules in one query, without a
// lock or a transaction id, and handles those with something to do.
func (c *Client) lookAtPeriodic(ctx context.Context, names []string) error {
	rows, err := c.db.Query(ctx, `SELECT name, `+periodicColumns+` FROM seatbelt_jobs_periodic WHERE name = ANY($1::text[])`, names)
	if err != nil {
		return err
	}
	stored := map[string]periodicRow{}
	for rows.Next() {
		var name string
		r := periodicRow{exists: true}
		if err := rows.Scan(append([]any{&name}, r.dest()...)...); err != nil {
			rows.Close()
			return err
		}
		stored[name] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	now := c.cfg.Now()
	var errs []error
	var refresh, refreshSpecs []string
	var act []*periodicReg
	for _, p := range c.periodic {
		switch c.periodicAction(p, stored[p.Name], now) {
		case periodicNothing:
			p.deferred = false
		case periodicRefresh:
			p.deferred = false
			refresh, refreshSpecs = append(refresh, p.Name), append(refreshSpecs, p.spec)
		case periodicDefer:
			if !p.deferred {
				p.deferred = true
				c.log.Warn("jobs: periodic job: a client started later runs another schedule under this name; this one defers to it while that one keeps it",
					"periodic", p.Name, "stored", stored[p.Name].schedule, "mine", p.spec)
			}
		default:
			p.deferred = false
			act = append(act, p)
		}
	}
	// First, before any slow enqueueing: the clients deferring to these
	// schedules count on hearing it in time.
	if len(refresh) > 0 {
		if _, err := c.db.Exec(ctx, refreshSQL, refresh, refreshSpecs, c.checkEvery().Seconds()); err != nil {
			errs = append(errs, fmt.Errorf("saying that %v run: %w", refresh, err))
		}
	}
	for _, p := range act {
		if err := c.firePeriodic(ctx, p, now); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// firePeriodic acts on p in one transaction under its row's lock,
// deciding again on what the locked row holds. The lock is taken with
// NOWAIT (another client holding it is acting on it now) and the
// transaction may not sit idle longer than the on-time window, so a
// client frozen inside it (SIGSTOP, a long GC) cannot hold the schedule.
func (c *Client) firePeriodic(ctx context.Context, p *periodicReg, now time.Time) error {
	err := pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('idle_in_transaction_session_timeout', $1::text, true)", fmt.Sprintf("%dms", c.onTime().Milliseconds())); err != nil {
			return err
		}
		row := periodicRow{exists: true}
		err := tx.QueryRow(ctx, `SELECT `+periodicColumns+` FROM seatbelt_jobs_periodic WHERE name = $1::text FOR UPDATE NOWAIT`, p.Name).Scan(row.dest()...)
		if errors.Is(err, pgx.ErrNoRows) {
			row.exists = false
		} else if err != nil {
			return err
		}
		switch action := c.periodicAction(p, row, now); action {
		case periodicInsert:
			// A new schedule starts at its next slot. If another client
			// inserts first, this one looks again at its next tick.
			_, err = tx.Exec(ctx, `INSERT INTO seatbelt_jobs_periodic (name, kind, schedule, schedule_from, written_by, next_slot, updated_at, checked_at, check_every)
VALUES ($1::text, $2::text, $3::text, $4::timestamptz, $5::text, $6::timestamptz, $7::timestamptz, clock_timestamp(), make_interval(secs => $8::float8)) ON CONFLICT (name) DO NOTHING`,
				p.Name, p.Kind, p.spec, c.startedAt, c.cfg.WorkerID, p.next(now), now, c.checkEvery().Seconds())
			return err
		case periodicReplace, periodicTakeOver:
			// From the first slot not yet enqueued that is still on time,
			// so a deploy that changes the schedule does not drop a slot
			// due this very moment.
			from := now.Add(-c.onTime())
			if row.lastSlot != nil && row.lastSlot.After(from) {
				from = *row.lastSlot
			}
			// A schedule taken over is dated from now, not from this
			// client's start: the clients of the schedule it replaces may
			// have started later (an old build's replica restarted during a
			// deploy), and must not take it back while this one runs.
			since := c.startedAt
			if action == periodicTakeOver {
				since = now
				c.log.Warn("jobs: periodic job: no client runs the stored schedule any more (its build rolled back, or gone); taking the name back", "periodic", p.Name, "stored", row.schedule, "mine", p.spec)
			} else {
				c.log.Info("jobs: periodic job: schedule changed", "periodic", p.Name, "from", row.schedule, "to", p.spec)
			}
			_, err := tx.Exec(ctx, `UPDATE seatbelt_jobs_periodic SET kind = $2::text, schedule = $3::text, schedule_from = $4::timestamptz, written_by = $5::text,
	next_slot = $6::timestamptz, updated_at = $7::timestamptz, `+checkedSQL(8)+` WHERE name = $1::text`, p.Name, p.Kind, p.spec, since, c.cfg.WorkerID, p.next(from), now, c.checkEvery().Seconds())
			return err
		case periodicFire:
			return c.enqueueDue(ctx, tx, p, row.next, now)
		}
		return nil
	})
	if isLockTimeout(err) { // another client acts on it
		return nil
	}
	return err
}

// maxDueSlots bounds the on-time slots one look enqueues: a schedule of
// seconds looked at every few minutes.
const maxDueSlots = 1000

// enqueueDue enqueues p's due slots, next being the first, and moves the
// row past them. Slots within the on-time window each get a job. Older
// ones are late or missed:
//   - late: they came due while this client ran, which could not reach
//     them in time (the database was down, another client held the row's
//     lock). Every client may have been as stuck, so they are never
//     dropped: they get one job together, unless an on-time slot runs now
//     anyway, whatever the policy.
//   - missed: they passed before this client started, while maybe no
//     client ran the schedule. The policy says whether they get one job
//     together (unless an on-time slot runs now anyway) or none.
func (c *Client) enqueueDue(ctx context.Context, tx pgx.Tx, p *periodicReg, next, now time.Time) error {
	windowStart := now.Add(-c.onTime())
	var due []time.Time
	s := next
	overdue := !s.After(windowStart)
	if overdue {
		s = p.next(windowStart)
	}
	for !s.IsZero() && !s.After(now) {
		if len(due) == maxDueSlots {
			c.log.Warn("jobs: periodic job: more slots on time than one look enqueues; the rest are skipped (look more often: Config.PeriodicInterval)",
				"periodic", p.Name, "enqueued", len(due), "first_skipped", s)
			break
		}
		due = append(due, s)
		n := p.next(s)
		if !n.After(s) {
			break
		}
		s = n
	}
	if overdue {
		// The first slot that came due while this client ran, if overdue.
		late := p.next(c.startedAt.Add(-time.Nanosecond))
		if late.Before(next) {
			late = next
		}
		switch {
		case !late.After(windowStart):
			c.log.Warn("jobs: periodic job: slots came due while no client could enqueue them (database down, or the schedule's row locked); they run late, once", "periodic", p.Name, "first_late", late)
			if len(due) == 0 {
				due = append(due, late)
			}
		default:
			c.log.Warn("jobs: periodic job: slots passed while no client ran it", "periodic", p.Name, "first_missed", next, "policy", p.Missed.String())
			if p.Missed == MissedRunOnce && len(due) == 0 {
				due = append(due, next) // one run, keyed by the first missed slot
			}
		}
	}
	var last *time.Time
	var lastID *int64
	for _, slot := range due {
		res, err := Enqueue(ctx, tx, p.Kind, json.RawMessage(p.args), &EnqueueOpts{Queue: p.Queue, Priority: p.Priority,
			UniqueKey: "periodic:" + p.Name + ":" + slot.UTC().Format(time.RFC3339Nano), RunAt: now})
		if err != nil {
			return err
		}
		last, lastID = &slot, &res.ID
	}
	_, err := tx.Exec(ctx, `UPDATE seatbelt_jobs_periodic SET last_slot = coalesce($2::timestamptz, last_slot), last_job_id = coalesce($3::bigint, last_job_id),
	next_slot = $4::timestamptz, written_by = $5::text, updated_at = $6::timestamptz, `+checkedSQL(7)+` WHERE name = $1::text`, p.Name, last, lastID, p.next(now), c.cfg.WorkerID, now, c.checkEvery().Seconds())
	return err
}

// PeriodicInfo is one stored schedule, as [Periodic] reports it.
type PeriodicInfo struct {
	Name string
	Kind string
	// Schedule is as written, with the time zone, the missed policy, the
	// kind, the queue, and the priority and the args' hash where set.
	Schedule string
	// LastSlot is the latest slot a job was enqueued for, LastJobID that
	// job; nil before the first.
	LastSlot  *time.Time
	LastJobID *int64
	NextSlot  time.Time
	// WrittenBy is the worker that last changed the row, and UpdatedAt
	// when.
	WrittenBy string
	UpdatedAt time.Time
	// CheckedAt is when a client running the stored schedule last said so,
	// on the database's clock (they do every few seconds); nil before the
	// first. Older clients with another schedule under the name defer to
	// the stored one while it moves.
	CheckedAt *time.Time
}

// Periodic reports the stored schedules, by name, with their next slots.
func Periodic(ctx context.Context, db DB) ([]PeriodicInfo, error) {
	rows, err := db.Query(ctx, `SELECT name, kind, schedule, last_slot, last_job_id, next_slot, written_by, updated_at, checked_at FROM seatbelt_jobs_periodic ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("jobs: reading periodic jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PeriodicInfo, error) {
		var p PeriodicInfo
		return p, r.Scan(&p.Name, &p.Kind, &p.Schedule, &p.LastSlot, &p.LastJobID, &p.NextSlot, &p.WrittenBy, &p.UpdatedAt, &p.CheckedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: reading periodic jobs: %w", err)
	}
	return out, nil
}
