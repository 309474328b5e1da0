package chaos_test

import (
	"fmt"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
)

// A team previews the moments a runner with seed 7 will act on in its first
// week, before turning it on: mostly at night, never on weekends.
func ExampleSchedule_Plan() {
	s, err := chaos.NewSchedule(chaos.Config{
		MeanInterval:    chaos.Duration(12 * time.Hour),
		TimeZone:        "Europe/Berlin",
		ExcludeWeekdays: []string{"Sat", "Sun"},
	}, 7)
	if err != nil {
		panic(err)
	}
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, s.Location())
	moments, err := s.Plan(from, 7)
	if err != nil {
		panic(err)
	}
	for _, m := range moments {
		fmt.Println(m.Format("Mon 2006-01-02 15:04 MST"), s.Config().Windows[s.WindowOf(m)].String())
	}
	// Output:
	// Mon 2026-06-01 01:03 CEST 22:00-06:00=0.8
	// Mon 2026-06-01 05:44 CEST 22:00-06:00=0.8
	// Mon 2026-06-01 23:02 CEST 22:00-06:00=0.8
	// Tue 2026-06-02 01:41 CEST 22:00-06:00=0.8
	// Tue 2026-06-02 04:32 CEST 22:00-06:00=0.8
	// Wed 2026-06-03 00:12 CEST 22:00-06:00=0.8
	// Wed 2026-06-03 04:49 CEST 22:00-06:00=0.8
	// Wed 2026-06-03 22:54 CEST 22:00-06:00=0.8
	// Thu 2026-06-04 10:18 CEST 06:00-22:00=0.2
	// Thu 2026-06-04 22:07 CEST 22:00-06:00=0.8
	// Fri 2026-06-05 01:04 CEST 22:00-06:00=0.8
	// Fri 2026-06-05 03:34 CEST 22:00-06:00=0.8
}

func ExampleParseConfig() {
	cfg, err := chaos.ParseConfig([]byte(`
meanInterval: 48h
windows: [{start: "22:00", end: "06:00"}]
timeZone: America/New_York
`))
	fmt.Println(time.Duration(cfg.MeanInterval), cfg.Windows, err)

	_, err = chaos.ParseConfig([]byte(`minInterval: 30h`))
	fmt.Println(err)
	// Output:
	// 48h0m0s [22:00-06:00=1] <nil>
	// chaos: invalid schedule config: minInterval: 30h0m0s must be at least 1m shorter than meanInterval 24h0m0s
}
