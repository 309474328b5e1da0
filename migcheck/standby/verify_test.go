package standby_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migprom"
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

// A starting service sees a standby held and not released: Verify warns
// (it does not block the start) and migprom exports the hold, until the
// release.
func TestVerifyAndMetricsShowAHoldUntilItsRelease(t *testing.T) {
	ctx := context.Background()
	primary, stby, _ := pair(t)
	set := migcheck.Set{Name: "app", FS: fstest.MapFS{"0001_a.up.sql": {Data: []byte("CREATE TABLE a (id int);")}}}
	m, err := migcheck.New(primary, &migcheck.Config{Logger: quiet()}, set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	col, err := migprom.NewCollector(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := standby.New(primary, stby, &standby.Config{Deploy: "v7", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Verify(ctx)
	if err != nil || rep.Err() != nil {
		t.Fatalf("Verify with a held standby: %v %v; a hold must not block the start", err, rep.Err())
	}
	var warned bool
	for _, pr := range rep.Problems {
		if pr.Kind == migcheck.KindStandbyHeld && pr.Severity == migcheck.SeverityWarning &&
			strings.Contains(pr.Message, `standby "standby" is held`) && strings.Contains(pr.Message, "by v7") && strings.Contains(pr.Fix, "seatbelt standby release") {
			warned = true
		}
	}
	if !warned || len(rep.StandbyHolds) != 1 {
		t.Fatalf("Verify with a held standby: problems %+v, holds %+v; want one standby-held warning", rep.Problems, rep.StandbyHolds)
	}
	if err := testutil.CollectAndCompare(col, strings.NewReader(heldGauge(1)), "seatbelt_standby_held"); err != nil {
		t.Fatalf("while held: %v", err)
	}
	if err := p.Release(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = m.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range rep.Problems {
		if pr.Kind == migcheck.KindStandbyHeld {
			t.Fatalf("Verify after the release still warns: %+v", pr)
		}
	}
	if err := testutil.CollectAndCompare(col, strings.NewReader(heldGauge(0)), "seatbelt_standby_held"); err != nil {
		t.Fatalf("after the release: %v", err)
	}
}

func heldGauge(v int) string {
	return fmt.Sprintf(`
# HELP seatbelt_standby_held 1 while the standby is held for a deploy (or a hold of it did not finish), 0 once released.
# TYPE seatbelt_standby_held gauge
seatbelt_standby_held{standby="standby"} %d
`, v)
}
