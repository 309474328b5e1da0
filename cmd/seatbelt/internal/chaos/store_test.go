package chaos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := &FileStore{Path: filepath.Join(dir, "state.json"), Keep: 3}
	ctx := t.Context()
	if st, err := f.Load(ctx); err != nil || st != (State{}) {
		t.Fatalf("missing file: %+v, %v", st, err)
	}
	at := time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC)
	for i := range 5 {
		st := State{LastAction: at.Add(time.Duration(i) * time.Hour), Day: "2026-06-01", DayCount: i + 1}
		if err := f.Save(ctx, st, Outcome{Time: st.LastAction, Result: ResultDryRun}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := (&FileStore{Path: f.Path}).Load(ctx)
	if err != nil || !st.LastAction.Equal(at.Add(4*time.Hour)) || st.DayCount != 5 {
		t.Fatalf("reloaded %+v, %v", st, err)
	}
	outs, _ := f.Outcomes()
	if len(outs) != 3 || !outs[0].Time.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("kept %d outcomes starting %v; want the last 3", len(outs), outs[0].Time)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}

	if err := os.WriteFile(f.Path, []byte("{half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(ctx); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("corrupt file: %v", err)
	}
}
