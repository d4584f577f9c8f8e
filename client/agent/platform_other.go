//go:build !linux

package agent

import (
	"errors"
	"io/fs"
	"net"
	"os"
)

// errUnsupported: this build reads no peer credentials, so the agent
// serves no one (docs/client.md: the agent runs on Linux).
var errUnsupported = errors.New("agent: it runs on Linux only")

func peerCred(*net.UnixConn) (Cred, error) { return Cred{}, errUnsupported }

func ownerOf(fs.FileInfo) (int, bool) { return 0, false }

// Protect does nothing here: the agent does not run on this system.
func Protect() (locked bool, err error) { return false, errUnsupported }

func lockFile(string) (*os.File, error) { return nil, errUnsupported }
