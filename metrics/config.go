package metrics

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidConfig is matched by every configuration error a constructor
// here returns. The message names the field and what to set.
var ErrInvalidConfig = errors.New("metrics: invalid config")

// checkBuckets refuses what the Prometheus client would otherwise accept
// here and panic on later, at the first observation, inside a request.
func checkBuckets(field string, buckets []float64, def string) error {
	for i, b := range buckets {
		switch {
		case math.IsNaN(b):
			return fmt.Errorf("%w: field %s holds NaN at index %d; list finite upper bounds in seconds, or leave it nil for %s", ErrInvalidConfig, field, i, def)
		case i > 0 && b <= buckets[i-1]:
			return fmt.Errorf("%w: field %s is not increasing (%v follows %v at index %d); list upper bounds in increasing order, or leave it nil for %s", ErrInvalidConfig, field, b, buckets[i-1], i, def)
		}
	}
	return nil
}
