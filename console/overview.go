package console

import (
	"context"
	"net/http"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// overviewData is the front page: what needs looking at first, each part
// a few indexed reads. A part that cannot be read says why instead of
// failing the page: the page is most needed when something is broken.
type overviewData struct {
	Failed, Running, Available countCell
	JobsErr                    string
	Problems, Errors           int
	Dirty                      []string
	SchemaErr                  string
	NoSets                     bool
	Consumers                  []eventlog.ConsumerStatus
	MaxLag                     int64 // eventlog.MaxLagCount: a lag there is a lower bound
	ConsumersErr               string
	NextDeploy                 *time.Time
	LastDeploy                 *DeployOutcome
	DeploysErr                 string
	HasDeploys                 bool
}

// overview is the front page: where to look first.
func (c *Console) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	d := overviewData{NoSets: len(c.cfg.Sets) == 0, HasDeploys: c.cfg.Deploys != nil, MaxLag: eventlog.MaxLagCount}
	if counts, _, _, err := c.jobCounts(ctx); err != nil {
		d.JobsErr = err.Error()
	} else {
		for _, n := range counts {
			switch n.State {
			case jobs.StateFailed:
				d.Failed = n
			case jobs.StateRunning:
				d.Running = n
			case jobs.StateAvailable:
				d.Available = n
			}
		}
	}
	if !d.NoSets {
		if rep, err := c.verify(ctx); err != nil {
			d.SchemaErr = err.Error()
		} else {
			d.Problems = len(rep.Problems)
			for _, p := range rep.Problems {
				if p.Severity == migcheck.SeverityError {
					d.Errors++
				}
			}
			for _, s := range rep.Sets {
				if s.Dirty {
					d.Dirty = append(d.Dirty, s.Set)
				}
			}
		}
	}
	if cs, err := c.events.Consumers(ctx); err != nil {
		d.ConsumersErr = err.Error()
	} else {
		d.Consumers = cs
	}
	if c.cfg.Deploys != nil {
		now := c.cfg.Now()
		if next, err := c.cfg.Deploys.Planned(ctx, now, now.AddDate(0, 0, chartDays)); err != nil {
			d.DeploysErr = err.Error()
		} else if len(next) > 0 {
			d.NextDeploy = &next[0]
		}
		if past, err := c.cfg.Deploys.Past(ctx, 1); err != nil {
			d.DeploysErr = err.Error()
		} else if len(past) > 0 {
			d.LastDeploy = &past[0]
		}
	}
	return c.render(w, r, "overview.html", "Overview", d)
}

// verify runs migcheck's Verify on the console's sets, with the service's
// migcheck settings.
func (c *Console) verify(ctx context.Context) (*migcheck.Report, error) {
	m, err := c.migrator()
	if err != nil {
		return nil, err
	}
	return m.Verify(ctx)
}
