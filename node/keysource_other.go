//go:build !unix

package node

import "os/exec"

// killGroupOnCancel leaves exec's default: the command alone is killed when
// its context ends.
func killGroupOnCancel(cmd *exec.Cmd) {}
