package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Deploys is where the deploys page reads the deploy schedule and its past
// actions; the CLI gives one over its chaos configuration and store.
type Deploys interface {
	// Planned returns the moments planned in [from, to), in order.
	Planned(ctx context.Context, from, to time.Time) ([]time.Time, error)
	// Past returns the most recent outcomes, newest first, at most limit.
	Past(ctx context.Context, limit int) ([]DeployOutcome, error)
	// Rules returns the rules the moments are drawn by, which the chart
	// draws behind them.
	Rules() DeployRules
}

// DeployOutcome is what became of one planned moment.
type DeployOutcome struct {
	Time     time.Time
	Action   string
	Result   string // "success", "failed", "verify_failed", "skipped", "dry_run"
	Reason   string
	ExitCode int
	Duration time.Duration
	// Output is the tail of the action's output, shown folded.
	Output string
}

// DeployRules are the rules a deploy schedule draws its moments by.
type DeployRules struct {
	// Location is the time zone the schedule reads its days and windows
	// in; the chart's rows are its days. Nil means the console's Location.
	Location *time.Location
	// Windows are the times of day deploys may happen, each with its share
	// of them. The chart shades the hours where a deploy is likelier than
	// average (the night, in the default chaos schedule) and greys those
	// outside every window. None means any time of day, evenly.
	Windows []DeployWindow
	// MeanInterval is the mean time between deploys; 0 if not known.
	MeanInterval time.Duration
	// MinInterval is the shortest gap between two deploys; 0 for none.
	MinInterval time.Duration
	// MaxPerDay caps the deploys of one day in Location; 0 for no cap.
	MaxPerDay int
	// Source says where the schedule comes from, e.g. "chaos.yaml, seed 7".
	Source string
}

// DeployWindow is a time of day when deploys may happen.
type DeployWindow struct {
	// Start and End are times of day as offsets from midnight; an End not
	// after Start wraps midnight (22h to 6h is 22:00-06:00).
	Start, End time.Duration
	// Share is the window's expected share of the deploys, 0 to 1.
	Share float64
}

// momentLayout writes a planned moment in the schedule's zone.
const momentLayout = "Mon 2006-01-02 15:04 MST"

// chartDays is how far ahead the deploys page shows the plan; pastLimit
// bounds the outcomes it lists.
const (
	chartDays = 14
	pastLimit = 100
)

// Chart geometry, in SVG user units: a label column, then 24 hours.
const (
	labelW  = 100
	hourW   = 36
	axisH   = 22
	rowH    = 26
	chartW  = labelW + 24*hourW + 24
	minuteW = float64(hourW) / 60
)

func (c *Console) routeDeploys() {
	c.mux.Handle("GET /deploys", c.page(c.deploysPage))
}

// deploysData is the deploys page's data.
type deploysData struct {
	Unconfigured bool
	Rules        DeployRules
	Zone         string
	Every, Apart string   // the mean and minimum intervals, e.g. "24h", "2h30m"
	Night        []string // the shaded windows, e.g. "22:00-06:00 (80% of deploys)"
	Chart        deployChart
	Planned      []plannedDeploy
	Past         []pastDeploy
}

type deployChart struct {
	Width, Height int
	PlotX, PlotW  int // where the 24 hours are drawn
	Ticks         []chartTick
	Days          []chartDay
}

type chartTick struct {
	X     float64
	Label string
}

type chartDay struct {
	Y, H    int // the row's band
	Mid     int // the marks' centre line
	TextY   int
	Label   string
	Bands   []chartBand
	Deploys []chartMark
}

type chartBand struct {
	X, W  float64
	Class string // "night", "closed" (outside every window) or "past"
}

type chartMark struct {
	X     float64
	Title string
}

// pastDeploy is an outcome with its result's style.
type pastDeploy struct {
	DeployOutcome
	Class string // good, bad, warn or muted
}

type plannedDeploy struct {
	Time  time.Time
	Local string // in the schedule's zone
	In    string // how long until it, e.g. "in 3d 14h"
	Night bool
}

func (c *Console) deploysPage(w http.ResponseWriter, r *http.Request) error {
	d := c.cfg.Deploys
	if d == nil {
		return c.render(w, r, "deploys.html", "Deploys", deploysData{Unconfigured: true})
	}
	rules := d.Rules()
	loc := rules.Location
	if loc == nil {
		loc = c.cfg.Location
	}
	now := c.cfg.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	end := today.AddDate(0, 0, chartDays)
	planned, err := d.Planned(r.Context(), now, end)
	if err != nil {
		return fmt.Errorf("reading the planned deploys: %w", err)
	}
	past, err := d.Past(r.Context(), pastLimit)
	if err != nil {
		return fmt.Errorf("reading the past deploys: %w", err)
	}
	kinds := minuteKinds(rules.Windows)
	data := deploysData{Rules: rules, Zone: loc.String(), Every: shortDur(rules.MeanInterval), Apart: shortDur(rules.MinInterval), Night: nightLabels(rules.Windows, kinds)}
	for _, o := range past {
		data.Past = append(data.Past, pastDeploy{o, resultClass(o.Result)})
	}
	data.Chart = chart(today, now, planned, kinds)
	for _, t := range planned {
		lt := t.In(loc)
		data.Planned = append(data.Planned, plannedDeploy{Time: t, Local: lt.Format(momentLayout), In: until(t.Sub(now)), Night: kinds[minuteOf(lt)] == kindNight})
	}
	return c.render(w, r, "deploys.html", "Deploys", data)
}

// What a minute of the day is to the schedule.
const (
	kindOpen   = iota // in a window of average or lower density
	kindNight         // in a window where a deploy is likelier than average
	kindClosed        // outside every window: no deploy
)

// bandClass is the chart band drawn for each kind of minute.
var bandClass = [...]string{kindOpen: "", kindNight: "night", kindClosed: "closed"}

// minuteKinds classes each minute of the day by the windows: a window's
// density is its share over its length, and the average is the total share
// over the minutes covered. Windows of equal density (one window for the
// whole day, say) are all average: nothing is shaded.
func minuteKinds(ws []DeployWindow) [1440]int {
	var kinds [1440]int
	if len(ws) == 0 {
		return kinds
	}
	owner := [1440]int{}
	length := make([]int, len(ws))
	for m := range owner {
		owner[m] = -1
	}
	for i, w := range ws {
		start, end := int(w.Start/time.Minute)%1440, int(w.End/time.Minute)
		if end <= start {
			end += 1440
		}
		for m := start; m < end; m++ {
			owner[m%1440] = i
		}
	}
	covered, share := 0, 0.0
	for _, o := range owner {
		if o >= 0 {
			length[o]++
			covered++
		}
	}
	for i, w := range ws {
		if length[i] > 0 {
			share += w.Share
		}
	}
	for m, o := range owner {
		switch {
		case o < 0:
			kinds[m] = kindClosed
		case ws[o].Share/float64(length[o]) > share/float64(covered)*(1+1e-9):
			kinds[m] = kindNight
		default:
			kinds[m] = kindOpen
		}
	}
	return kinds
}

// nightLabels names the shaded windows for the legend.
func nightLabels(ws []DeployWindow, kinds [1440]int) []string {
	var out []string
	for _, w := range ws {
		if kinds[int(w.Start/time.Minute)%1440] == kindNight {
			out = append(out, fmt.Sprintf("%s-%s (%.0f%% of deploys)", clock(w.Start), clock(w.End), 100*w.Share))
		}
	}
	return out
}

func clock(d time.Duration) string {
	m := int(d / time.Minute)
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

// shortDur writes a schedule's interval without its zero tail: "24h", not
// "24h0m0s".
func shortDur(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// until says how long until a planned moment, in days past two.
func until(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("in %dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("in %dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

func minuteOf(t time.Time) int { return t.Hour()*60 + t.Minute() }

// chart lays out one row per day from today: the shaded and closed hours
// (by wall clock, so a day of a DST change is drawn as any other), what of
// today is past, and a mark per planned moment.
func chart(today, now time.Time, planned []time.Time, kinds [1440]int) deployChart {
	ch := deployChart{Width: chartW, Height: axisH + chartDays*rowH + 4, PlotX: labelW, PlotW: 24 * hourW}
	for h := 0; h <= 24; h += 3 {
		ch.Ticks = append(ch.Ticks, chartTick{X: labelW + float64(h*hourW), Label: fmt.Sprintf("%02d:00", h%24)})
	}
	var bands []chartBand
	for m := 0; m < 1440; {
		k, start := kinds[m], m
		for m < 1440 && kinds[m] == k {
			m++
		}
		if class := bandClass[k]; class != "" {
			bands = append(bands, chartBand{X: labelW + float64(start)*minuteW, W: float64(m-start) * minuteW, Class: class})
		}
	}
	row := map[string]int{}
	for i := range chartDays {
		day := today.AddDate(0, 0, i)
		y := axisH + i*rowH
		cd := chartDay{Y: y + 2, H: rowH - 4, Mid: y + rowH/2, TextY: y + rowH/2 + 4, Label: day.Format("Mon Jan 2"), Bands: bands}
		if i == 0 {
			cd.Bands = append(append([]chartBand(nil), bands...), chartBand{X: labelW, W: float64(minuteOf(now)) * minuteW, Class: "past"})
		}
		ch.Days = append(ch.Days, cd)
		row[day.Format(time.DateOnly)] = i
	}
	for _, t := range planned {
		lt := t.In(today.Location())
		i, ok := row[lt.Format(time.DateOnly)]
		if !ok {
			continue
		}
		x := labelW + (float64(minuteOf(lt))+float64(lt.Second())/60)*minuteW
		ch.Days[i].Deploys = append(ch.Days[i].Deploys, chartMark{X: x, Title: "deploy " + lt.Format(momentLayout)})
	}
	return ch
}

// resultClass styles an outcome's result.
func resultClass(result string) string {
	switch result {
	case "success":
		return "good"
	case "failed", "verify_failed":
		return "bad"
	case "skipped":
		return "warn"
	}
	return "muted"
}
