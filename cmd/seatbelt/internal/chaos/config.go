package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Config describes when actions may happen. The zero value is a usable
// schedule: about one action a day, most of them at night, in UTC.
type Config struct {
	// MeanInterval is the mean time between actions, counted over days that
	// are not excluded. Defaults to 24 hours.
	MeanInterval Duration `json:"meanInterval,omitempty"`
	// MinInterval is the shortest allowed gap between two actions; it holds
	// across restarts because the last action time is stored. Must be shorter
	// than MeanInterval. Defaults to 2 hours.
	MinInterval Duration `json:"minInterval,omitempty"`
	// MaxPerDay caps actions per calendar day in TimeZone. Defaults to 3.
	MaxPerDay int `json:"maxPerDay,omitempty"`
	// Windows are the times of day when actions may happen, each with a
	// weight: the expected share of actions in a window is its weight over
	// the sum of weights. Times outside every window get no action. Windows
	// may wrap midnight and must not overlap. Defaults to 22:00-06:00 with
	// weight 0.8 and 06:00-22:00 with weight 0.2.
	Windows []Window `json:"windows,omitempty"`
	// TimeZone is the IANA zone (as for time.LoadLocation) in which windows,
	// days and dates are read. Defaults to "UTC".
	TimeZone string `json:"timeZone,omitempty"`
	// ExcludeWeekdays lists days with no action ("Sat", "Sunday", ...).
	// Defaults to none.
	ExcludeWeekdays []string `json:"excludeWeekdays,omitempty"`
	// ExcludeDates lists days with no action, either one day ("2026-12-24")
	// or the same day every year ("12-24"). Defaults to none.
	ExcludeDates []string `json:"excludeDates,omitempty"`
	// Blackouts are periods with no action, such as a release freeze.
	// Defaults to none.
	Blackouts []Blackout `json:"blackouts,omitempty"`
}

// Window is a time of day range [Start, End) with a weight. End may be
// earlier than Start to wrap midnight; "24:00" is allowed as End.
type Window struct {
	// Start is "HH:MM". Required.
	Start string `json:"start"`
	// End is "HH:MM" or "24:00". Required.
	End string `json:"end"`
	// Weight is the relative share of actions in this window. Defaults to 1.
	Weight float64 `json:"weight,omitempty"`
}

// Blackout is a period [Start, End) with no action, in local time of the
// schedule's zone, written "2006-01-02 15:04" or "2006-01-02" (midnight).
type Blackout struct {
	// Start of the period. Required.
	Start string `json:"start"`
	// End of the period (exclusive). Required.
	End string `json:"end"`
}

// Duration is a time.Duration that reads and writes as "90m", "24h", ...
// in JSON and YAML.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1h30m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string ("90m") or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("want a duration such as \"90m\", got %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Defaults of [Config], used for zero fields.
const (
	DefaultMeanInterval = 24 * time.Hour
	DefaultMinInterval  = 2 * time.Hour
	DefaultMaxPerDay    = 3
)

// DefaultWindows are used when Config.Windows is empty: mostly at night.
func DefaultWindows() []Window {
	return []Window{
		{Start: "22:00", End: "06:00", Weight: 0.8},
		{Start: "06:00", End: "22:00", Weight: 0.2},
	}
}

// ErrInvalidConfig is wrapped by every [ConfigError].
var ErrInvalidConfig = errors.New("chaos: invalid schedule config")

// ConfigError names the field that is wrong and why.
type ConfigError struct {
	Field  string // e.g. "windows[1].start"
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("chaos: invalid schedule config: %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidConfig) match.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// ParseConfig reads a schedule from YAML or JSON (JSON is YAML). Unknown
// fields are errors, so a misspelt key does not silently fall back to a
// default. The result is validated.
func ParseConfig(data []byte) (Config, error) {
	c, err := DecodeConfig(data)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// DecodeConfig is [ParseConfig] without the validation, for callers that
// change the config (say, from flags) before [NewSchedule] validates it.
func DecodeConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, &ConfigError{Field: "file", Reason: err.Error()}
	}
	return c, nil
}

// ParseWindow reads the flag form "22:00-06:00=0.8" (the weight is optional
// and defaults to 1).
func ParseWindow(s string) (Window, error) {
	span, weight, hasWeight := strings.Cut(strings.TrimSpace(s), "=")
	start, end, ok := strings.Cut(span, "-")
	if !ok {
		return Window{}, &ConfigError{Field: "window", Reason: fmt.Sprintf("%q: want START-END[=WEIGHT], e.g. 22:00-06:00=0.8", s)}
	}
	w := Window{Start: strings.TrimSpace(start), End: strings.TrimSpace(end), Weight: 1}
	if hasWeight {
		f, err := strconv.ParseFloat(strings.TrimSpace(weight), 64)
		if err != nil {
			return Window{}, &ConfigError{Field: "window", Reason: fmt.Sprintf("%q: weight: %v", s, err)}
		}
		w.Weight = f
	}
	if _, _, err := w.minutes(); err != nil {
		return Window{}, &ConfigError{Field: "window", Reason: fmt.Sprintf("%q: %v", s, err)}
	}
	return w, nil
}

// ParseBlackout reads the flag form "2026-12-20 00:00/2027-01-04 00:00".
func ParseBlackout(s string) (Blackout, error) {
	start, end, ok := strings.Cut(s, "/")
	if !ok {
		return Blackout{}, &ConfigError{Field: "blackout", Reason: fmt.Sprintf("%q: want START/END, e.g. 2026-12-20/2027-01-04 06:00", s)}
	}
	return Blackout{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)}, nil
}

// String is the flag form of the window.
func (w Window) String() string {
	return fmt.Sprintf("%s-%s=%g", w.Start, w.End, w.weight())
}

func (w Window) weight() float64 {
	if w.Weight == 0 {
		return 1
	}
	return w.Weight
}

// minutes returns start and end as minutes after midnight; end may be 1440.
func (w Window) minutes() (start, end int, err error) {
	start, err = clockMinutes(w.Start, false)
	if err != nil {
		return 0, 0, fmt.Errorf("start: %w", err)
	}
	end, err = clockMinutes(w.End, true)
	if err != nil {
		return 0, 0, fmt.Errorf("end: %w", err)
	}
	if start == end {
		return 0, 0, errors.New("start equals end; use 00:00-24:00 for the whole day")
	}
	return start, end, nil
}

func clockMinutes(s string, allow24 bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !allow24)) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// Validate checks every field and returns a [*ConfigError] naming the first
// field that is wrong.
func (c Config) Validate() error {
	_, err := compile(c)
	return err
}
