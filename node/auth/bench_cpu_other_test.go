//go:build !unix

package auth

import "time"

// processCPU is not measured here: withCPU reports no cpu-ns/op.
func processCPU() time.Duration { return 0 }
