// Package chaos runs an action (a redeploy, a rollout restart, an Argo CD
// sync) at random moments, mostly at night, so that a team has to make
// deploys painless. It is the engine behind "seatbelt chaos"; the ideas
// come from kube-monkey (weekday windows, a mean time between kills),
// chaoskube (quiet times that wrap midnight, dry run by default) and
// Netflix Chaos Monkey (mean time between terminations, a minimum gap).
//
// # Schedule
//
// A [Config] says when actions may happen: a mean interval, windows of the
// day with weights (by default 80% of actions between 22:00 and 06:00), a
// time zone, excluded weekdays and dates, blackout periods, a minimum
// interval and a daily maximum. [ParseConfig] reads it from YAML or JSON
// and every error is a [*ConfigError] naming the field. [NewSchedule]
// turns a config and a seed into a [Schedule]; [Schedule.Next] gives the
// next moment after a time given the [State] (last action, count today),
// and [Schedule.Plan] lists the moments of the next days.
//
// # How moments are drawn
//
// Moments are a Poisson process whose rate depends on the time of day,
// then thinned by the rules:
//
//   - Each day gets its own random source, seeded by the schedule seed and
//     the date, and draws its candidates from a rate that is constant
//     within a window's minute and zero outside every window. A Poisson
//     process is memoryless, so dropping the candidates that break a rule
//     (inside the minimum interval after the last action, past the daily
//     maximum, on an excluded day, in a blackout) is the same as starting
//     the process afresh where the rule stops applying: nothing else needs
//     to be remembered across restarts but [State].
//   - Dropping candidates inside the minimum interval would take more from
//     busy windows (the gap after a night action is mostly night), bending
//     the shares and lengthening the mean. The rate at each minute is
//     therefore the target rate divided by 1-q, q being the chance that an
//     action happened in the minimum interval before it; since actions are
//     at least that far apart, q is exactly the target summed over that
//     span. After thinning, each window gets its weight's share and the
//     mean interval is the configured one (over days not excluded; a
//     daily maximum that often binds lowers both slightly). A config for
//     which q would reach 90% is rejected: the windows cannot hold their
//     share.
//   - Because a day's candidates depend only on the seed and the date,
//     "seatbelt chaos plan --seed S" shows exactly what a runner started
//     with seed S will do, restarts included, as long as no action is
//     skipped by a precondition.
//
// Windows are read on the wall clock of the time zone. Around a DST change
// an instant is only kept if its wall time is in the window, so nothing is
// scheduled in the hour that does not exist in spring, and the hour that
// happens twice in autumn is simply two real hours of that window.
//
// # Running
//
// A [Runner] ([NewRunner], [RunnerConfig]) waits for each moment on its
// [Clock] and then:
//
//  1. skips the moment if it woke up more than MaxLateness after it;
//  2. checks the preconditions: HealthURL must answer 200 and the SkipIf
//     command must fail, else the moment is skipped (nothing ran, so it
//     does not count toward the minimum interval or the daily maximum);
//  3. in a dry run (the default) stops there with the result dry_run,
//     which does count, so the log shows what --execute would do;
//  4. runs the action with "sh -c" in its own process group, killed with
//     the group after ActionTimeout;
//  5. verifies: VerifyCommand must exit 0 and VerifyURL must answer 200,
//     polled, within VerifyTimeout;
//  6. stores the [Outcome] and the new [State] in the [Store] ([FileStore],
//     written atomically, or [PGStore]), counts it in [Metrics] and posts
//     it to WebhookURL as a [WebhookPayload] whose text field Slack shows.
//
// [Runner.Run] loops until its context ends; [Runner.RunOnce] does one
// moment, which is what the tests drive with a fake clock.
package chaos
