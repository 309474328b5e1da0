package chaos

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseConfigYAMLAndJSON(t *testing.T) {
	t.Parallel()
	yamlDoc := `
meanInterval: 12h
minInterval: 90m
maxPerDay: 2
timeZone: Europe/Berlin
windows:
  - {start: "23:00", end: "05:00", weight: 3}
  - {start: "12:00", end: "13:00"}
excludeWeekdays: [Sat, Sun]
excludeDates: ["12-24", "2027-01-01"]
blackouts:
  - {start: "2026-12-20", end: "2027-01-04 06:00"}
`
	jsonDoc := `{"meanInterval":"12h","minInterval":"90m","maxPerDay":2,"timeZone":"Europe/Berlin",
"windows":[{"start":"23:00","end":"05:00","weight":3},{"start":"12:00","end":"13:00"}],
"excludeWeekdays":["Sat","Sun"],"excludeDates":["12-24","2027-01-01"],
"blackouts":[{"start":"2026-12-20","end":"2027-01-04 06:00"}]}`
	for name, doc := range map[string]string{"YAML": yamlDoc, "JSON": jsonDoc} {
		c, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if time.Duration(c.MeanInterval) != 12*time.Hour || time.Duration(c.MinInterval) != 90*time.Minute ||
			c.MaxPerDay != 2 || len(c.Windows) != 2 || c.Windows[0].Weight != 3 || c.Windows[1].Weight != 0 ||
			len(c.ExcludeWeekdays) != 2 || c.Blackouts[0].End != "2027-01-04 06:00" {
			t.Fatalf("%s: parsed %+v", name, c)
		}
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		doc, field string
	}{
		{`meanInterval: 30s`, "meanInterval"},
		{`meanInterval: nonsense`, "file"},
		{`minInterval: 25h`, "minInterval"},
		{`minInterval: -1h`, "minInterval"},
		{`maxPerDay: -1`, "maxPerDay"},
		{`timeZone: Mars/Olympus`, "timeZone"},
		{`windows: [{start: "25:00", end: "06:00"}]`, "windows[0]"},
		{`windows: [{start: "22:00", end: "22:00"}]`, "windows[0]"},
		{`windows: [{start: "22:00", end: "06:00"}, {start: "05:00", end: "07:00"}]`, "windows[1]"},
		{`windows: [{start: "22:00", end: "06:00", weight: -2}]`, "windows[0].weight"},
		{`excludeWeekdays: [Mon, Caturday]`, "excludeWeekdays[1]"},
		{`excludeWeekdays: [Mon, Tue, Wed, Thu, Fri, Sat, Sun]`, "excludeWeekdays"},
		{`excludeDates: ["02-30"]`, "excludeDates[0]"},
		{`blackouts: [{start: "2026-12-20", end: "2026-12-01"}]`, "blackouts[0].end"},
		{`blackouts: [{start: "tomorrow", end: "2026-12-01"}]`, "blackouts[0].start"},
		{`meanIntervall: 12h`, "file"},
	} {
		_, err := ParseConfig([]byte(tc.doc))
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error %v, want a ConfigError", tc.doc, err)
			continue
		}
		if ce.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: field %q (%v), want %q", tc.doc, ce.Field, err, tc.field)
		}
	}
}

func TestParseWindowAndBlackoutFlags(t *testing.T) {
	t.Parallel()
	w, err := ParseWindow("22:00-06:00=0.8")
	if err != nil || w != (Window{Start: "22:00", End: "06:00", Weight: 0.8}) {
		t.Fatalf("got %+v, %v", w, err)
	}
	if w, err := ParseWindow("12:00-24:00"); err != nil || w.Weight != 1 || w.End != "24:00" {
		t.Fatalf("got %+v, %v", w, err)
	}
	for _, bad := range []string{"22:00", "22:00-06:00=x", "24:00-06:00", "1:2-3:4"} {
		if _, err := ParseWindow(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseWindow(%q) = %v, want ErrInvalidConfig", bad, err)
		}
	}
	b, err := ParseBlackout("2026-12-20 00:00/2027-01-04")
	if err != nil || b.Start != "2026-12-20 00:00" || b.End != "2027-01-04" {
		t.Fatalf("got %+v, %v", b, err)
	}
	if _, err := ParseBlackout("2026-12-20"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("ParseBlackout without / = %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`meanInterval: 12h
windows: [{start: "23:00", end: "05:00", weight: 3}]
timeZone: America/New_York
excludeDates: ["12-24"]`))
	f.Add([]byte(`{"minInterval":"1h","maxPerDay":1,"blackouts":[{"start":"2026-01-01","end":"2026-02-01"}]}`))
	f.Add([]byte(`windows: [{start: "00:00", end: "24:00"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		s, err := NewSchedule(c, 1)
		if err != nil {
			t.Fatalf("ParseConfig accepted what NewSchedule rejects: %v", err)
		}
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		next, err := s.Next(from, State{})
		if errors.Is(err, ErrNoMoment) {
			return
		}
		if err != nil || !next.After(from) || !s.Allowed(next) {
			t.Fatalf("Next(%v) = %v, %v; allowed %v", from, next, err, s.Allowed(next))
		}
	})
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"22:00-06:00=0.8", "06:00-22:00", "00:00-24:00=1e3", "9:30-10:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s)
		if err != nil {
			return
		}
		again, err := ParseWindow(w.String())
		if err != nil || again.Start != w.Start || again.End != w.End {
			t.Fatalf("%q -> %v -> %v, %v", s, w, again, err)
		}
	})
}
