//go:build !unix

package client_test

import "time"

// clientCPU is not measured here.
func clientCPU() time.Duration { return 0 }
