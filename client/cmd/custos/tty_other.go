//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import "errors"

// echoOff: custos can hide what is typed only on Linux and the BSDs
// (macOS among them); elsewhere give --password-file.
func echoOff(int) (func(), error) {
	return nil, errors.New("hidden input is not supported on this system; give --password-file or $CUSTOS_PASSWORD_FILE")
}
