package chaos

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNoMoment is returned by [Schedule.Next] when no moment is allowed in
// the next four years: the exclusions and blackouts leave no room.
var ErrNoMoment = errors.New("chaos: no allowed moment in the next four years; relax excludeWeekdays, excludeDates or blackouts")

// searchDays bounds how far [Schedule.Next] looks ahead.
const searchDays = 4 * 366

// State is what a schedule needs to remember across restarts so that the
// minimum interval and the daily maximum hold.
type State struct {
	// LastAction is when the last action ran (or would have, in a dry run).
	LastAction time.Time `json:"lastAction,omitzero"`
	// Day is the local date ("2006-01-02") that DayCount counts.
	Day string `json:"day,omitempty"`
	// DayCount is how many actions ran on Day.
	DayCount int `json:"dayCount,omitempty"`
}

// Schedule is a validated [Config] with a seed. It is a pure function of
// both: the same config and seed give the same moments, which is why
// "seatbelt chaos plan --seed S" shows exactly what a runner started with
// the same seed will do. Safe for concurrent use.
type Schedule struct {
	cfg       Config
	seed      uint64
	loc       *time.Location
	mean, min time.Duration
	maxPerDay int
	pieces    []piece       // daily pieces of windows, sorted by start minute
	rate      [1440]float64 // candidates per second at each minute of day
	exWeekday [7]bool
	exDate    map[string]bool // "2006-01-02"
	exYearly  map[string]bool // "01-02"
	blackouts []span

	cacheMu  sync.Mutex
	cacheDay civil // the day whose candidates are in cache; Next asks for the same day repeatedly
	cache    []time.Time
}

// piece is a part of a window within one day, [start, end) in minutes after
// midnight, with the highest candidate rate per second in it.
type piece struct {
	window     int
	start, end int
	rate       float64
}

type span struct{ start, end time.Time }

// NewSchedule validates cfg and returns its schedule for seed.
func NewSchedule(cfg Config, seed uint64) (*Schedule, error) {
	s, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	s.seed = seed
	return s, nil
}

// Config returns the config with defaults filled in.
func (s *Schedule) Config() Config { return s.cfg }

// Seed returns the seed the schedule draws from.
func (s *Schedule) Seed() uint64 { return s.seed }

// Location returns the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// MinInterval returns the minimum gap between actions.
func (s *Schedule) MinInterval() time.Duration { return s.min }

// WindowOf returns the index in Config().Windows of the window that holds
// t's local time of day, or -1.
func (s *Schedule) WindowOf(t time.Time) int {
	t = t.In(s.loc)
	m := t.Hour()*60 + t.Minute()
	for _, p := range s.pieces {
		if m >= p.start && m < p.end {
			return p.window
		}
	}
	return -1
}

// Allowed reports whether an action may happen at t, ignoring the minimum
// interval and the daily maximum (which depend on [State]).
func (s *Schedule) Allowed(t time.Time) bool {
	return s.WindowOf(t) >= 0 && !s.excludedDay(civilOf(t.In(s.loc))) && !s.inBlackout(t)
}

// Next returns the first moment strictly after after at which the schedule
// acts, given what st says about earlier actions.
func (s *Schedule) Next(after time.Time, st State) (time.Time, error) {
	d := civilOf(after.In(s.loc))
	for range searchDays {
		if !s.excludedDay(d) && !s.dayBlackedOut(d) {
			key := d.String()
			for _, c := range s.candidates(d) {
				if !c.After(after) || s.inBlackout(c) {
					continue
				}
				if !st.LastAction.IsZero() && c.Sub(st.LastAction) < s.min {
					continue
				}
				if st.Day == key && st.DayCount >= s.maxPerDay {
					break
				}
				return c, nil
			}
		}
		d = d.next()
	}
	return time.Time{}, ErrNoMoment
}

// Record returns st updated for an action at t.
func (s *Schedule) Record(st State, t time.Time) State {
	key := civilOf(t.In(s.loc)).String()
	if st.Day != key {
		st.Day, st.DayCount = key, 0
	}
	st.DayCount++
	if t.After(st.LastAction) {
		st.LastAction = t
	}
	return st
}

// Plan returns the moments from from (inclusive) for the given number of
// days, assuming each planned action runs.
func (s *Schedule) Plan(from time.Time, days int) ([]time.Time, error) {
	end := civilOf(from.In(s.loc)).addDays(days).start(s.loc)
	var (
		st  State
		out []time.Time
	)
	t := from.Add(-time.Nanosecond)
	for {
		next, err := s.Next(t, st)
		if errors.Is(err, ErrNoMoment) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !next.Before(end) {
			return out, nil
		}
		out = append(out, next)
		st = s.Record(st, next)
		t = next
	}
}

// candidates draws the raw points of day d: a Poisson process whose rate is
// constant within each window piece. They depend only on the seed and the
// date, so restarts and exclusions do not reshuffle other days.
func (s *Schedule) candidates(d civil) []time.Time {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if s.cache != nil && s.cacheDay == d {
		return s.cache
	}
	s.cacheDay, s.cache = d, s.drawDay(d)
	return s.cache
}

func (s *Schedule) drawDay(d civil) []time.Time {
	rng := rand.New(rand.NewPCG(s.seed, uint64(d.dayNumber())))
	dayStart, dayEnd := d.start(s.loc), d.addDays(1).start(s.loc)
	var out []time.Time
	for _, p := range s.pieces {
		from, to := d.at(p.start, s.loc), d.at(p.end, s.loc)
		if from.Before(dayStart) {
			from = dayStart
		}
		if to.After(dayEnd) {
			to = dayEnd
		}
		t := float64(0)
		length := to.Sub(from).Seconds()
		for {
			t += rng.ExpFloat64() / p.rate
			if t >= length {
				break
			}
			c := from.Add(time.Duration(t * float64(time.Second))).Truncate(time.Second)
			// Around a DST change the wall clock of a real instant may fall
			// outside the piece (the hour that does not exist maps
			// elsewhere); only keep instants whose wall time is inside.
			lc := c.In(s.loc)
			m := lc.Hour()*60 + lc.Minute()
			keep := rng.Float64() < s.rate[m%1440]/p.rate // thinning to the per-minute rate
			if keep && civilOf(lc) == d && m >= p.start && m < p.end && !c.Before(from) {
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	out = slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
	if out == nil {
		out = []time.Time{} // cached as "no candidates", not "not drawn"
	}
	return out
}

func (s *Schedule) excludedDay(d civil) bool {
	if s.exWeekday[d.weekday()] {
		return true
	}
	return s.exDate[d.String()] || s.exYearly[d.String()[5:]]
}

// dayBlackedOut reports whether a blackout covers all of day d, so Next
// need not draw its candidates.
func (s *Schedule) dayBlackedOut(d civil) bool {
	start, end := d.start(s.loc), d.addDays(1).start(s.loc)
	for _, b := range s.blackouts {
		if !start.Before(b.start) && !end.After(b.end) {
			return true
		}
	}
	return false
}

func (s *Schedule) inBlackout(t time.Time) bool {
	for _, b := range s.blackouts {
		if !t.Before(b.start) && t.Before(b.end) {
			return true
		}
	}
	return false
}

// compile fills defaults and validates.
func compile(c Config) (*Schedule, error) {
	if c.MeanInterval == 0 {
		c.MeanInterval = Duration(DefaultMeanInterval)
	}
	if c.MinInterval == 0 {
		c.MinInterval = Duration(DefaultMinInterval)
	}
	if c.MaxPerDay == 0 {
		c.MaxPerDay = DefaultMaxPerDay
	}
	if len(c.Windows) == 0 {
		c.Windows = DefaultWindows()
	}
	if c.TimeZone == "" {
		c.TimeZone = "UTC"
	}
	s := &Schedule{mean: time.Duration(c.MeanInterval), min: time.Duration(c.MinInterval), maxPerDay: c.MaxPerDay}
	switch {
	case s.mean < time.Minute:
		return nil, &ConfigError{Field: "meanInterval", Reason: fmt.Sprintf("%v is too short; use at least 1m", s.mean)}
	case s.min < 0:
		return nil, &ConfigError{Field: "minInterval", Reason: "must not be negative"}
	case s.mean-s.min < time.Minute:
		return nil, &ConfigError{Field: "minInterval", Reason: fmt.Sprintf("%v must be at least 1m shorter than meanInterval %v", s.min, s.mean)}
	case c.MaxPerDay < 0:
		return nil, &ConfigError{Field: "maxPerDay", Reason: "must not be negative"}
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, &ConfigError{Field: "timeZone", Reason: fmt.Sprintf("%q: %v; use an IANA name such as Europe/Berlin", c.TimeZone, err)}
	}
	s.loc = loc

	if err := s.compileWindows(c.Windows); err != nil {
		return nil, err
	}
	for i, name := range c.ExcludeWeekdays {
		wd, ok := weekdayNames[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, &ConfigError{Field: fmt.Sprintf("excludeWeekdays[%d]", i), Reason: fmt.Sprintf("%q is not a weekday; use Mon, Tue, ... or Monday, ...", name)}
		}
		s.exWeekday[wd] = true
	}
	if !slices.Contains(s.exWeekday[:], false) {
		return nil, &ConfigError{Field: "excludeWeekdays", Reason: "excludes every day of the week"}
	}
	s.exDate, s.exYearly = map[string]bool{}, map[string]bool{}
	for i, ds := range c.ExcludeDates {
		ds = strings.TrimSpace(ds)
		field := fmt.Sprintf("excludeDates[%d]", i)
		if len(ds) == len("01-02") {
			if _, err := time.Parse("2006-01-02", "2000-"+ds); err != nil {
				return nil, &ConfigError{Field: field, Reason: fmt.Sprintf("%q is not MM-DD or YYYY-MM-DD", ds)}
			}
			s.exYearly[ds] = true
			continue
		}
		if _, err := time.Parse("2006-01-02", ds); err != nil {
			return nil, &ConfigError{Field: field, Reason: fmt.Sprintf("%q is not MM-DD or YYYY-MM-DD", ds)}
		}
		s.exDate[ds] = true
	}
	for i, b := range c.Blackouts {
		field := fmt.Sprintf("blackouts[%d]", i)
		start, err := parseLocal(b.Start, loc)
		if err != nil {
			return nil, &ConfigError{Field: field + ".start", Reason: err.Error()}
		}
		end, err := parseLocal(b.End, loc)
		if err != nil {
			return nil, &ConfigError{Field: field + ".end", Reason: err.Error()}
		}
		if !end.After(start) {
			return nil, &ConfigError{Field: field + ".end", Reason: "must be after start"}
		}
		s.blackouts = append(s.blackouts, span{start, end})
	}
	s.cfg = c
	return s, nil
}

func (s *Schedule) compileWindows(ws []Window) error {
	var owner [1440]int // window index + 1 covering each minute
	minutes := make([]int, len(ws))
	total := 0.0
	for i, w := range ws {
		field := fmt.Sprintf("windows[%d]", i)
		start, end, err := w.minutes()
		if err != nil {
			return &ConfigError{Field: field, Reason: err.Error()}
		}
		if w.Weight < 0 || math.IsNaN(w.Weight) || math.IsInf(w.Weight, 0) {
			return &ConfigError{Field: field + ".weight", Reason: fmt.Sprintf("%v must be a positive number", w.Weight)}
		}
		parts := [][2]int{{start, end}}
		if end < start {
			parts = [][2]int{{start, 1440}, {0, end}}
		}
		for _, p := range parts {
			for m := p[0]; m < p[1]; m++ {
				if owner[m] != 0 {
					return &ConfigError{Field: field, Reason: fmt.Sprintf("%s overlaps windows[%d] %s", w, owner[m]-1, ws[owner[m]-1])}
				}
				owner[m] = i + 1
				minutes[i]++
			}
			if p[1] > p[0] {
				s.pieces = append(s.pieces, piece{window: i, start: p[0], end: p[1]})
			}
		}
		total += w.weight()
	}
	// The target action density per minute of day follows the weights.
	// Candidates that fall within MinInterval after an action are
	// rejected, so a minute m keeps a candidate only with probability
	// 1-q(m), q(m) being the chance that an action happened in the
	// MinInterval before m. Because actions are at least MinInterval apart
	// there is at most one in that span, so q(m) is exactly the target
	// density summed over it, and drawing candidates at target/(1-q)
	// gives back the target density after rejection: the shares and the
	// mean interval come out as configured.
	perDay := float64(24*time.Hour) / float64(s.mean)
	var target [1440]float64 // actions per minute, summing to perDay
	for m, o := range owner {
		if o != 0 {
			target[m] = perDay * ws[o-1].weight() / total / float64(minutes[o-1])
		}
	}
	var prefix [1441]float64
	for m := range target {
		prefix[m+1] = prefix[m] + target[m]
	}
	dead := int(s.min / time.Minute)
	for m := range target {
		if target[m] == 0 {
			continue
		}
		// Sum of the target over the dead minutes before m, wrapping days.
		q := float64(dead/1440) * perDay
		from := m - dead%1440
		if from >= 0 {
			q += prefix[m] - prefix[from]
		} else {
			q += prefix[m] + prefix[1440] - prefix[1440+from]
		}
		if q >= 0.9 {
			return &ConfigError{Field: "minInterval", Reason: fmt.Sprintf("%v is too long for the windows to take their share at meanInterval %v (%.0f%% of the time after %02d:%02d is blocked); shorten minInterval or lengthen meanInterval", s.min, s.mean, 100*q, m/60, m%60)}
		}
		s.rate[m] = target[m] / (1 - q) / 60 // per second
	}
	for i := range s.pieces {
		for m := s.pieces[i].start; m < s.pieces[i].end; m++ {
			s.pieces[i].rate = max(s.pieces[i].rate, s.rate[m])
		}
	}
	slices.SortFunc(s.pieces, func(a, b piece) int { return a.start - b.start })
	return nil
}
