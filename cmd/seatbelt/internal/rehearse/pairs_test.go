package rehearse

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/syncbuf"
)

// The proof that a rehearsal catches what it is for: real builds of the
// orders example, one of them carrying a defect, rehearsed with the
// example's own scenario file. Each broken pair must fail in the phase that
// exposes its defect, with the cause that names it; the compatible pair
// must pass, so the failures are the defects' and not the harness's.

// edit changes one file of a copy of examples/orders. old must occur in the
// file exactly once (a changed example then fails the test loudly instead
// of testing nothing); with old empty, the file is written with new.
type edit struct{ file, old, new string }

// The defects, each the smallest change that makes a real mistake.
var (
	// renameSummaryColumn is a new build that renames a column the old
	// build reads and writes, and itself uses the new name: it works on its
	// schema, and the old build, still serving while the migration runs
	// (and again after a rollback), does not.
	renameSummaryColumn = []edit{
		{file: "migrations/0002_summary_changed_at.up.sql", new: "ALTER TABLE customer_summaries RENAME COLUMN updated_at TO changed_at;\n"},
		{file: "migrations/0002_summary_changed_at.down.sql", new: "ALTER TABLE customer_summaries RENAME COLUMN changed_at TO updated_at;\n"},
		{file: "summary.go", old: "total_cents = total_cents - $2, updated_at = now() WHERE customer = $1", new: "total_cents = total_cents - $2, changed_at = now() WHERE customer = $1"},
		{file: "summary.go", old: "total_cents = s.total_cents + EXCLUDED.total_cents, updated_at = now()", new: "total_cents = s.total_cents + EXCLUDED.total_cents, changed_at = now()"},
		{file: "summary.go", old: "SELECT orders, total_cents, updated_at FROM customer_summaries", new: "SELECT orders, total_cents, changed_at FROM customer_summaries"},
	}

	// renameVersionField is a new build whose orders answer "ver" where
	// today's clients read "version".
	renameVersionField = []edit{
		{file: "orders_api.go", old: "Version  int64     `json:\"version\"`", new: "Version  int64     `json:\"ver\"`"},
	}

	// exitOnSIGTERM is a new build that exits the moment SIGTERM arrives:
	// no readiness drop, no serving through the endpoint removal, no drain.
	exitOnSIGTERM = []edit{
		{file: "main.go", old: "\t\"os\"\n", new: "\t\"os\"\n\t\"os/signal\"\n\t\"syscall\"\n"},
		{file: "main.go", old: "func main() {\n", new: "func main() {\n\tsigterm := make(chan os.Signal, 1)\n\tsignal.Notify(sigterm, syscall.SIGTERM)\n\tgo func() { <-sigterm; os.Exit(0) }()\n"},
	}

	// appendOutsideTheStage is a new build whose import stages append their
	// orders outside the stage's transaction, each committed at once, and
	// then do a second of other work before recording them in the job's
	// ledger: a worker killed meanwhile leaves the orders behind, and the
	// stage, claimed again once its lease runs out, appends them again. (A
	// deploy's SIGTERM lets the stage finish: only a kill shows it.)
	appendOutsideTheStage = []edit{
		{file: "imports.go", old: "\ttx, err := r.Tx(ctx)\n\tif err != nil {\n\t\treturn err\n\t}\n\tfrom, to := batchRange(args.Orders, i)\n", new: "\tfrom, to := batchRange(args.Orders, i)\n"},
		{file: "imports.go", old: "log.AppendTx(ctx, tx, orderStream(id),", new: "log.Append(ctx, orderStream(id),"},
		{file: "imports.go", old: "\tif err := r.Track(ctx, orderTable, keys...); err != nil {\n", new: "\ttime.Sleep(time.Second)\n\tif err := r.Track(ctx, orderTable, keys...); err != nil {\n"},
	}

	// shortLease gives every build of the pairs a 5 s job lease instead
	// of the example's 30 s, so that a stage a kill interrupted runs again
	// within the short rehearsal instead of holding up its checks (the
	// imports invariant waits for every import) for half a minute.
	shortLease = []edit{
		{file: "service.go", old: "\t\"net/http\"\n", new: "\t\"net/http\"\n\t\"time\"\n"},
		{file: "service.go", old: "Observer: jobMetrics, Direct: env.direct()}", new: "Observer: jobMetrics, Direct: env.direct(), Lease: 5 * time.Second}"},
	}

	// frequentSummaries makes the summary reads frequent enough (a dozen
	// a second at the test's rate) that the migrate phase, two seconds
	// here, surely sends some after the migration landed; at the file's
	// rate and duration a weight of 5 sends dozens.
	frequentSummaries = []edit{
		{file: "rehearse.yaml", old: "    weight: 5\n    path: /customers/customer-{{randInt 0 24}}/summary\n", new: "    weight: 25\n    path: /customers/customer-{{randInt 0 24}}/summary\n"},
	}

	// frequentImports makes imports frequent enough (near three a second at
	// the test's rate, more than the new build's workers finish) that the
	// kills phase's SIGKILL finds stages running on whichever replica it
	// kills.
	frequentImports = []edit{
		{file: "rehearse.yaml", old: "    weight: 0.175\n", new: "    weight: 5\n"},
	}
)

// Short rehearsals: CI runs every pair on each change.
const (
	pairDuration = 12 * time.Second
	pairRate     = 60
)

func TestPairs(t *testing.T) {
	if testing.Short() {
		// .ci/run's -short passes run packages' SQL again in other pgx
		// modes; these builds' SQL is the example's, which its own tests
		// run in those modes, and the full run rehearsed every pair.
		t.Skip("the pairs are whole rehearsals; the full test run has them")
	}
	root := repoRoot(t)
	good := buildExample(t, root, t.TempDir(), "v1", shortLease)
	tests := []struct {
		name     string
		new      []edit // the new build's defect; nil for none
		scenario []edit // changes to the example's rehearse.yaml
		// phase and cause are the report's verdict; "" for a pass.
		phase, cause string
		// check looks at what the failure showed, beyond the verdict.
		check func(t *testing.T, rep *Report)
	}{
		// The same example, stamped as another version.
		{name: "Compatible"},
		{name: "SchemaRenamedUnderTheOldBuild", new: renameSummaryColumn, scenario: frequentSummaries, phase: PhaseMigrate, cause: CauseSchema,
			check: failedWith(PhaseMigrate, "summary GET /customers/", "500")},
		{name: "ResponseFieldRenamed", new: renameVersionField, phase: PhaseDeploy, cause: CauseEndpoint,
			check: failedWith(PhaseDeploy, "$.version")},
		// The deploy stops replicas of the old build, which drains; the
		// rollback stops the new one's.
		{name: "ExitsAtOnceOnSIGTERM", new: exitOnSIGTERM, phase: PhaseRollback, cause: CauseShutdown,
			check: failedWith(PhaseRollback, "rollout proxy:")},
		// The killed stage runs again once its lease (shortLease) has passed;
		// the check of imported orders runs after the imports finished.
		{name: "StageWritesTwiceWhenKilled", new: appendOutsideTheStage, scenario: frequentImports, phase: PhaseChecks, cause: CauseJob,
			check: importedTwice("imported orders created twice or more than asked")},
	}
	// One rehearsal at a time: each runs replicas, a proxy and its traffic,
	// and on a 2-core machine six at once, and once even two, stalled a
	// service for over a second, so the rehearsal saw every client waiting
	// and failed a pair in a phase of no defect's. The pairs still build
	// side by side, before they queue for the machine.
	slots := make(chan struct{}, 1)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			newBin := buildExample(t, root, dir, "v2", append(slices.Clone(shortLease), tt.new...))
			sc := exampleScenario(t, root, tt.scenario)
			slots <- struct{}{}
			defer func() { <-slots }()
			var out syncbuf.Buffer
			start := time.Now()
			rep, err := Run(context.Background(), Config{
				Old:           Build{Name: "old", Binary: good},
				New:           Build{Name: "new", Binary: newBin},
				Scenario:      sc,
				Duration:      pairDuration,
				Rate:          pairRate,
				Seed:          uint64(i + 1),
				ServiceOutput: &out,
				Logger:        slog.New(slog.NewTextHandler(&out, nil)),
			})
			if err != nil {
				t.Fatalf("the rehearsal did not run: %v\n%s", err, out.Tail(60))
			}
			summary, _ := json.MarshalIndent(rep, "", "  ")
			var table strings.Builder
			rep.WriteTable(&table)
			t.Logf("rehearsed in %v:\n%s", time.Since(start).Round(time.Second), table.String())
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf(format+"\nreport: %s\nlast lines of the run:\n%s", append(args, summary, out.Tail(60))...)
			}
			if tt.phase == "" {
				if !rep.OK || rep.Phase != "" || rep.Cause != "" {
					fail("a compatible pair failed: phase %q, cause %q: %s", rep.Phase, rep.Cause, rep.Verdict)
				}
				if rep.RequestsOK < int64(pairRate)*int64(pairDuration/time.Second)/2 || rep.Acks.Checked < 100 {
					fail("too little was exercised to prove anything: %d requests answered, %d acknowledged writes checked", rep.RequestsOK, rep.Acks.Checked)
				}
				return
			}
			if rep.OK || rep.Phase != tt.phase || rep.Cause != tt.cause {
				fail("want a failure in phase %q with cause %q; got ok %v, phase %q, cause %q: %s", tt.phase, tt.cause, rep.OK, rep.Phase, rep.Cause, rep.Verdict)
			}
			if tt.check != nil {
				tt.check(t, rep)
				if t.Failed() {
					fail("the failure does not show the defect")
				}
			}
		})
	}
}

// failedWith checks that one of the first failures of phase shows all of
// parts.
func failedWith(phase string, parts ...string) func(*testing.T, *Report) {
	return func(t *testing.T, rep *Report) {
		first := phaseReport(t, rep, phase).First
		for _, f := range first {
			if containsAll(f, parts) {
				return
			}
		}
		t.Errorf("no failure in phase %s shows %q; the first ones: %q", phase, parts, first)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// importedTwice checks that the named invariant found an import whose
// orders have more versions than orders, or more orders than asked.
func importedTwice(name string) func(*testing.T, *Report) {
	return func(t *testing.T, rep *Report) {
		for _, inv := range rep.Invariants {
			if inv.Name != name {
				continue
			}
			row := sampleInts(inv.Sample)
			if inv.OK || row["versions"] <= row["orders"] && row["orders"] <= row["asked"] {
				t.Errorf("invariant %q found no import that created orders twice; its first row: %s", name, inv.Sample)
			}
			return
		}
		t.Errorf("no invariant %q in the report", name)
	}
}

// sampleInts reads the integer columns of an invariant's sample row,
// "a=1, b=x, c=3".
func sampleInts(sample string) map[string]int64 {
	out := map[string]int64{}
	for _, kv := range strings.Split(sample, ", ") {
		k, v, _ := strings.Cut(kv, "=")
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

func phaseReport(t *testing.T, rep *Report, name string) PhaseReport {
	for _, p := range rep.Phases {
		if p.Name == name {
			return p
		}
	}
	t.Errorf("no phase %q in the report", name)
	return PhaseReport{}
}

// repoRoot is the seatbelt repository this package is in: the example is
// built from it, against its library.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "examples", "orders", "main.go")); err != nil {
		t.Fatalf("the orders example is not at %s: %v", filepath.Join(root, "examples", "orders"), err)
	}
	return root
}

// buildExample copies examples/orders into dir, applies the edits, points
// the copy's library at root and builds it stamped with version, as CI
// would. It returns the executable's path.
//
// The copy is a module of its own (no go.work), built offline: its go.sum
// names every module, the cache holds them since this repository's tests
// build, and only the copy's own package compiles.
func buildExample(t *testing.T, root, dir, version string, edits []edit) string {
	t.Helper()
	src := filepath.Join(dir, "orders")
	if err := os.CopyFS(src, os.DirFS(filepath.Join(root, "examples", "orders"))); err != nil {
		t.Fatalf("copying the example: %v", err)
	}
	applyEdits(t, src, edits)
	bin := filepath.Join(dir, "orders-"+version)
	env := append(os.Environ(), "GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local")
	for _, args := range [][]string{
		{"mod", "edit", "-replace", "github.com/seatbelt-go/seatbelt=" + root},
		{"build", "-o", bin, "-ldflags", "-X main.buildVersion=" + version, "."},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = src, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in a copy of the example: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin
}

// applyEdits makes the edits in the tree at dir.
func applyEdits(t *testing.T, dir string, edits []edit) {
	t.Helper()
	for _, e := range edits {
		path := filepath.Join(dir, filepath.FromSlash(e.file))
		if e.old == "" {
			if _, err := os.Stat(path); err == nil {
				t.Fatalf("%s exists already in the example; a new file must not replace one", e.file)
			}
			if err := os.WriteFile(path, []byte(e.new), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("the edit of %s: %v", e.file, err)
		}
		if n := bytes.Count(b, []byte(e.old)); n != 1 {
			t.Fatalf("%s holds %q %d times, want once: the example changed; update the edit so it still makes its defect", e.file, e.old, n)
		}
		if err := os.WriteFile(path, bytes.Replace(b, []byte(e.old), []byte(e.new), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// exampleScenario loads examples/orders/rehearse.yaml with the edits made
// to its text.
func exampleScenario(t *testing.T, root string, edits []edit) *Scenario {
	t.Helper()
	src := filepath.Join(root, "examples", "orders", "rehearse.yaml")
	if len(edits) == 0 {
		sc, err := LoadScenario(src)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	dir := t.TempDir()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rehearse.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	applyEdits(t, dir, edits)
	sc, err := LoadScenario(filepath.Join(dir, "rehearse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
