//go:build !unix

package cputime

import "time"

// Self is not measured here: it is 0, and benchmarks report no CPU figure.
func Self() time.Duration { return 0 }
