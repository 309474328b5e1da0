package chaos

import (
	"fmt"
	"strings"
	"time"
)

func parseLocal(v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not \"2006-01-02 15:04\" or \"2006-01-02\"", v)
}

// civil is a calendar date without a zone.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil{y, m, d}
}

func (c civil) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", c.y, int(c.m), c.d)
}

func (c civil) addDays(n int) civil {
	return civilOf(time.Date(c.y, c.m, c.d+n, 12, 0, 0, 0, time.UTC))
}

func (c civil) next() civil { return c.addDays(1) }

func (c civil) weekday() time.Weekday {
	return time.Date(c.y, c.m, c.d, 12, 0, 0, 0, time.UTC).Weekday()
}

func (c civil) dayNumber() int64 {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func (c civil) start(loc *time.Location) time.Time { return c.at(0, loc) }

// at returns the instant of minute m (0..1440) of the day in loc; 1440 is
// the next midnight.
func (c civil) at(m int, loc *time.Location) time.Time {
	return time.Date(c.y, c.m, c.d, m/60, m%60, 0, 0, loc)
}
