//go:build !unix

package store

import "errors"

// Elsewhere the guard is off: newSpaceGuard returns nil.
const canMeasureSpace = false

var errNoSpaceMeasure = errors.New("free space cannot be measured on this system")

func diskAvail(string) (int64, error)   { return 0, errNoSpaceMeasure }
func sparseBytes(string) (int64, error) { return 0, errNoSpaceMeasure }
