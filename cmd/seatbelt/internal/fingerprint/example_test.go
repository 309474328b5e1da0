package fingerprint_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/fingerprint"
)

// Fingerprint the example service; CI saves the result and compares the
// next run's with it.
func ExampleCompute() {
	res, err := fingerprint.Compute(context.Background(), []string{"./examples/orders"}, &fingerprint.Options{Dir: "../../../.."})
	if err != nil {
		panic(err)
	}
	for _, f := range res.Fingerprints {
		fmt.Println(f.Package, strings.HasPrefix(f.Digest, "sha256:"), len(f.Digest))
	}
	// Output:
	// github.com/seatbelt-go/seatbelt/examples/orders true 71
}

// A monorepo CI reads last run's fingerprints (the text output) and
// deploys what changed or is new.
func ExampleCompare() {
	old, _ := fingerprint.Read(strings.NewReader(`sha256:aa  example.com/shop/cmd/api
sha256:bb  example.com/shop/cmd/worker
sha256:cc  example.com/shop/cmd/legacy
`))
	cur, _ := fingerprint.Read(strings.NewReader(`sha256:aa  example.com/shop/cmd/api
sha256:b2  example.com/shop/cmd/worker
sha256:dd  example.com/shop/cmd/billing
`))
	for _, c := range fingerprint.Compare(old, cur) {
		fmt.Println(c.Status, c.Package)
	}
	// Output:
	// unchanged example.com/shop/cmd/api
	// added example.com/shop/cmd/billing
	// removed example.com/shop/cmd/legacy
	// changed example.com/shop/cmd/worker
}
