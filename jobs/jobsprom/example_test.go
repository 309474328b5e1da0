package jobsprom_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/jobs/jobsprom"
)

// The collector is the client's observer and is registered on the
// service's registry.
func ExampleNewCollector() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()

	col := jobsprom.NewCollector()
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	client, _ := jobs.NewClient(db, &jobs.Config{Observer: col, Logger: discard()})
	ran := make(chan struct{})
	_ = client.Register(jobs.Kind{Name: "greet", Stages: []jobs.Stage{{Name: "hello", Run: func(context.Context, *jobs.StageRun) error {
		close(ran)
		return nil
	}}}})
	_ = client.Start(ctx)
	_, _ = jobs.Enqueue(ctx, db, "greet", nil, nil)
	<-ran
	_ = client.Stop(ctx) // waits for the stage's completion

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			fmt.Println(mf.GetName(), labels, m.GetHistogram().GetSampleCount()+uint64(m.GetCounter().GetValue()))
		}
	}
	// Output:
	// seatbelt_jobs_queue_latency_seconds [kind=greet] 1
	// seatbelt_jobs_rescued_total [] 0
	// seatbelt_jobs_stage_duration_seconds [kind=greet outcome=succeeded stage=hello] 1
}
