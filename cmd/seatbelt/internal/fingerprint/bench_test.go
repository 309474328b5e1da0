package fingerprint

import (
	"testing"
)

// BenchmarkCompute fingerprints this repository's main packages with a warm
// go command cache (the first iteration warms it), as CI would before
// deciding whether to build.
func BenchmarkCompute(b *testing.B) {
	for _, pkg := range []string{"./examples/orders", "./cmd/seatbelt"} {
		b.Run(pkg[2:], func(b *testing.B) {
			opts := &Options{Dir: "../../../.."}
			if _, err := Compute(b.Context(), []string{pkg}, opts); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := Compute(b.Context(), []string{pkg}, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
