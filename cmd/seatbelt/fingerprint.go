package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/fingerprint"
)

// compareJSON is the --json output of --compare.
type compareJSON struct {
	Changed   []string             `json:"changed"`
	Added     []string             `json:"added"`
	Removed   []string             `json:"removed"`
	Unchanged []string             `json:"unchanged"`
	Details   []fingerprint.Change `json:"details"`
}

func newFingerprintCmd() *cobra.Command {
	var (
		asJSON           bool
		compare, outFile string
		exitCode         bool
		opts             fingerprint.Options
	)
	cmd := &cobra.Command{
		Use:   "fingerprint [--json] [--compare FILE] PKG...",
		Short: "Print a SHA-256 over exactly what goes into each main package's binary",
		Long: `fingerprint asks the go command (go list -deps, go env) what goes into each
main package's binary and hashes it: the Go version, target platform and
build settings, every dependency package's Go, cgo and embedded files
(content, with paths relative to their module), and external modules'
versions with their go.sum hashes. Two checkouts in different folders get
the same digest; any byte changed in a dependency changes it.

--compare FILE reads an earlier output (text or --json) and reports which
packages changed, so a monorepo CI builds and deploys only those. --out
FILE saves this run's fingerprints as JSON for the next comparison.`,
		Example: `  seatbelt fingerprint ./cmd/...
  seatbelt fingerprint --compare last.json --out next.json --exit-code ./cmd/... || deploy`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := fingerprint.Compute(cmdContext(cmd), args, &opts)
			if err != nil {
				return err
			}
			if outFile != "" {
				data, _ := json.MarshalIndent(res, "", "  ")
				if err := os.WriteFile(outFile, append(data, '\n'), 0o644); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if compare == "" {
				if asJSON {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(res)
				}
				return res.WriteText(w)
			}
			f, err := os.Open(compare)
			if err != nil {
				return err
			}
			old, err := fingerprint.Read(f)
			f.Close()
			if err != nil {
				return err
			}
			changes := fingerprint.Compare(old, res)
			report := compareJSON{Changed: []string{}, Added: []string{}, Removed: []string{}, Unchanged: []string{}, Details: changes}
			deploy := 0
			for _, c := range changes {
				switch c.Status {
				case fingerprint.Changed:
					report.Changed = append(report.Changed, c.Package)
					deploy++
				case fingerprint.Added:
					report.Added = append(report.Added, c.Package)
					deploy++
				case fingerprint.Removed:
					report.Removed = append(report.Removed, c.Package)
				default:
					report.Unchanged = append(report.Unchanged, c.Package)
				}
			}
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(report); err != nil {
					return err
				}
			} else {
				for _, c := range changes {
					fmt.Fprintf(w, "%-9s  %s\n", c.Status, c.Package)
				}
			}
			if exitCode && deploy > 0 {
				return problems(fmt.Errorf("%d of %d packages changed", deploy, len(res.Fingerprints)))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&compare, "compare", "", "earlier output (text or JSON) to compare with; prints changed/added/removed/unchanged per package")
	f.StringVar(&outFile, "out", "", "also write this run's fingerprints as JSON to FILE")
	f.BoolVar(&exitCode, "exit-code", false, "with --compare, exit 1 if any package changed or was added")
	f.StringVarP(&opts.Dir, "dir", "C", "", "run the go command in this folder")
	f.StringArrayVar(&opts.BuildFlags, "build-flag", nil, `build flag as given to go build, hashed and passed to go list; repeatable, e.g. --build-flag=-trimpath --build-flag=-tags=netgo`)
	return cmd
}
