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
//
// The outcomes are those of [jobs.StageData]. One Collector may serve
// several clients of a process.
package jobsprom
