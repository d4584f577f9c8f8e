//go:build !unix

package vault

import (
	"errors"
	"io/fs"
	"os"
)

// supported fails: the vault relies on Unix file modes to keep it private.
func supported() error { return errors.New("the vault is supported on Unix systems only") }

func openChecked(fs.FileInfo) func(string, int, os.FileMode) (*os.File, error) {
	return func(string, int, os.FileMode) (*os.File, error) { return nil, supported() }
}
