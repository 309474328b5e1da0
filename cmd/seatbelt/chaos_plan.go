package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
)

// planJSON is the --json output of "chaos plan".
type planJSON struct {
	Seed     uint64       `json:"seed"`
	TimeZone string       `json:"timeZone"`
	From     string       `json:"from"`
	Days     int          `json:"days"`
	Config   chaos.Config `json:"config"`
	Moments  []planMoment `json:"moments"`
}

type planMoment struct {
	Time   time.Time `json:"time"`
	Local  string    `json:"local"`
	Window string    `json:"window"`
}

func newChaosPlanCmd(sf *scheduleFlags) *cobra.Command {
	var (
		days   int
		from   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "plan [--days N] [--seed S] [--json]",
		Short: "Print the moments chaos would act on, the same for the same seed",
		Long: `plan prints the moments a runner with the same schedule and --seed acts
on, from --from (default: today in --tz) for --days days, assuming no
moment is skipped. Without --seed a random one is drawn and printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 1 {
				return fmt.Errorf("chaos plan: --days must be at least 1")
			}
			sched, err := sf.schedule()
			if err != nil {
				return err
			}
			loc := sched.Location()
			start := time.Now().In(loc)
			start = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
			if from != "" {
				if start, err = time.ParseInLocation("2006-01-02", from, loc); err != nil {
					return fmt.Errorf("chaos plan: --from %q: want a date such as 2026-06-01", from)
				}
			}
			moments, err := sched.Plan(start, days)
			if err != nil {
				return err
			}
			windows := sched.Config().Windows
			out := planJSON{Seed: sched.Seed(), TimeZone: loc.String(), From: start.Format("2006-01-02"), Days: days, Config: sched.Config()}
			for _, m := range moments {
				out.Moments = append(out.Moments, planMoment{
					Time:   m.UTC(),
					Local:  m.In(loc).Format("Mon 2006-01-02 15:04 MST"),
					Window: windows[sched.WindowOf(m)].String(),
				})
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(w, "# seed %d, time zone %s, %d days from %s\n", out.Seed, out.TimeZone, days, out.From)
			for _, m := range out.Moments {
				fmt.Fprintf(w, "%s  %s\n", m.Local, m.Window)
			}
			fmt.Fprintf(w, "# %d moments\n", len(out.Moments))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&days, "days", 14, "number of days to plan")
	f.StringVar(&from, "from", "", "first day, 2006-01-02 (default: today in --tz)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
