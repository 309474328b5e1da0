// Package jobsprom exports what a jobs client does as Prometheus metrics.
// It is a separate package so that jobs itself does not depend on the
// Prometheus client. The [Collector] is the client's [jobs.Observer] and
// a prometheus.Collector:
//
//	col := jobsprom.NewCollector()
//	reg.MustRegister(col)
//	client, err := jobs.NewClient(db, &jobs.Config{Observer: col})
//
// It reports:
//
//	seatbelt_jobs_jobs{state}                                 jobs by state, from the leader only (a sum over pods is right)
//	seatbelt_jobs_stage_duration_seconds{kind,stage,outcome}  time a stage's Run took, by outcome
//	seatbelt_jobs_retries_total{kind,stage}                   failed attempts scheduled to run again
//	seatbelt_jobs_rescued_total                               stages made available again after their worker's lease expired (leader)
//	seatbelt_jobs_queue_latency_seconds{kind}                 time from a job's run-at to the claim of its first stage
//	seatbelt_jobs_queue_jobs{queue,state}                     jobs by queue and state, from the leader only
//	seatbelt_jobs_queue_paused{queue}                         1 while the queue is paused (jobs.PauseQueue), else 0 (leader)
//	seatbelt_jobs_queue_paused_seconds{queue}                 how long the queue has been paused, 0 while it runs (leader)
//
// The outcomes are those of [jobs.StageData]. One Collector may serve
// several clients of a process.
//
// seatbelt_jobs_jobs{state} stays the count over every queue, so that
// alerts and dashboards written before queues keep working; the queue
// gauges split it by queue ([jobs.StatesData].Queues). A queue has series
// while it has jobs, and from its first pause on, as [jobs.Queues] lists
// it: a resumed queue reads 0 rather than disappearing. The paused time is
// measured at each scrape from when the queue was paused (on the pauser's
// clock, so keep clocks in step), which makes "paused for more than an
// hour" an alert of its own:
//
//	max by (queue) (seatbelt_jobs_queue_paused_seconds) > 3600
//
// Every queue name is a label value: name queues for kinds of work (a few),
// never for a customer or a tenant, or the series multiply.
package jobsprom
