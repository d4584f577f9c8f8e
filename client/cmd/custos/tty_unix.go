//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package main

import "golang.org/x/sys/unix"

// echoOff turns off the echo of the terminal fd and returns what restores
// its state before. Line editing stays on, and so do the signal keys: Ctrl-C
// is a SIGINT that ends the prompt (see promptHidden).
//
// A SIGKILL leaves the echo off: no code of this process runs then, and a
// watcher process would restore the modes only after the shell took the
// terminal back, racing it (docs/client.md says why custos has none).
func echoOff(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &t); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, old) }, nil
}
