package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// SocketPath is the socket of the agent of the vault at vaultPath:
// agent-HASH.sock (HASH from the vault's absolute path, so that each vault
// has its own agent) in $XDG_RUNTIME_DIR/custos, or, without
// $XDG_RUNTIME_DIR, in custos-UID under the system's temporary directory
// (os.TempDir).
func SocketPath(vaultPath string) (string, error) {
	abs, err := filepath.Abs(vaultPath)
	if err != nil {
		return "", fmt.Errorf("find the agent's socket: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(socketDir(), "agent-"+hex.EncodeToString(sum[:8])+".sock"), nil
}

func socketDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "custos")
	}
	return filepath.Join(os.TempDir(), "custos-"+strconv.Itoa(os.Getuid()))
}

// makeDir makes the socket's directory, 0700, unless it exists; either
// way it must then be private (checkDir).
func makeDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("make the agent's directory: %w", err)
	}
	return checkDir(dir)
}

// checkDir checks that dir is a directory (not a link to one) of this
// user's that no one else may enter, list or write: else another user
// could put a socket of theirs in our agent's place, or reach ours.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	uid, ok := ownerOf(fi)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafeDir, dir)
	case !ok || uid != os.Getuid():
		return fmt.Errorf("%w: %s belongs to another user", ErrUnsafeDir, dir)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%w: %s has mode %04o, not 0700", ErrUnsafeDir, dir, fi.Mode().Perm())
	}
	return nil
}

// Cred is a socket peer's credentials, as the kernel gives them.
type Cred struct {
	UID int
	PID int
}

// CheckPeer allows a peer that runs as uid (the agent's own user), and
// refuses every other one, root included: root can read the agent's memory
// anyway, but need not be served through the socket.
func CheckPeer(c Cred, uid int) error {
	if c.UID != uid {
		return fmt.Errorf("%w (uid %d, pid %d)", ErrOtherUser, c.UID, c.PID)
	}
	return nil
}
