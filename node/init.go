package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
)

// ConfigFile is the name of the node's configuration file in its directory.
const ConfigFile = "node.yaml"

// InitOptions say how to make a new node directory. Empty fields take the
// defaults of config.Default.
type InitOptions struct {
	Dir        string
	Name       string   // default: made from the directory's name
	Listen     []string // multiaddrs
	Enrollment string   // "invite" or "open"
}

// Init makes a new node directory (mode 0700) holding a fresh identity key,
// a storage key and node.yaml with every setting written out. It refuses a
// directory that holds any of them already, so no node is ever overwritten.
// It returns the path of node.yaml and the node's peer ID.
func Init(o InitOptions) (string, peer.ID, error) {
	name := o.Name
	if name == "" {
		name = nameFromDir(o.Dir)
	}
	cfg := config.Default(name)
	if len(o.Listen) > 0 {
		cfg.Listen = o.Listen
	}
	if o.Enrollment != "" {
		cfg.Enrollment = o.Enrollment
	}
	cfg.Dir = o.Dir
	if err := cfg.Validate(); err != nil {
		return "", "", err
	}
	path := filepath.Join(o.Dir, ConfigFile)
	for _, p := range []string{path, cfg.Path(cfg.IdentityKey), cfg.Path(cfg.StorageKey.File), cfg.Path(cfg.DataDir)} {
		if exists(p) {
			return "", "", fmt.Errorf("%s holds a node already (%s); refusing to overwrite it", o.Dir, filepath.Base(p))
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return "", "", fmt.Errorf("make node directory: %w", err)
	}
	if err := os.Chmod(o.Dir, 0o700); err != nil {
		return "", "", fmt.Errorf("make node directory: %w", err)
	}
	key, err := newIdentity(cfg.Path(cfg.IdentityKey))
	if err != nil {
		return "", "", err
	}
	if err := newStorageKey(cfg.Path(cfg.StorageKey.File)); err != nil {
		return "", "", err
	}
	if err := config.WriteDefault(path, cfg); err != nil {
		return "", "", err
	}
	id, err := peer.IDFromPrivateKey(key)
	return path, id, err
}

// nameFromDir makes a node name from a directory's last element: lower
// case, other characters as hyphens, "custos" when nothing is left.
func nameFromDir(dir string) string {
	base := strings.ToLower(filepath.Base(filepath.Clean(dir)))
	var b strings.Builder
	for _, r := range base {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > api.MaxNodeNameLen {
		name = strings.Trim(name[:api.MaxNodeNameLen], "-")
	}
	if !api.ValidNodeName(name) {
		return "custos"
	}
	return name
}
