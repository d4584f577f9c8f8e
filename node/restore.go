package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"filippo.io/age"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/store"
)

// A restore rolls the node back to its backup: what happened after the
// backup is gone from the store and from the log. So that nobody mistakes
// the rollback for a node rewriting its history in secret, restore appends
// one ADMIN entry that says what it did, in the form api.Restore gives (the
// entry is at index N, the backup log's size; it names the log the data
// directory held before, when it held one).

// RestoreOptions change how RestoreWith treats a data directory that holds a
// store.
type RestoreOptions struct {
	// Replace moves a data directory that holds this node's store aside,
	// to Restored.Aside, instead of refusing it, and names its log in the
	// restore entry.
	Replace bool
}

// Restored says what a restore did.
type Restored struct {
	Entry string // the text of the ADMIN entry it logged
	Aside string // where the replaced data directory is now; "" if none
}

// Restore restores a backup made by Backup into the data directory of the
// stopped node whose configuration is cfg, and logs that it did. The
// directory must be empty or absent: restore never merges into a store.
func Restore(cfg *config.Config, r io.Reader, log *zap.Logger) error {
	_, err := RestoreWith(context.Background(), cfg, r, RestoreOptions{}, log)
	return err
}

// RestoreWith is Restore with options; ctx bounds reading the storage key
// from a command. On error the data directory is as it was.
func RestoreWith(ctx context.Context, cfg *config.Config, r io.Reader, o RestoreOptions, log *zap.Logger) (_ *Restored, err error) {
	l, id, err := restoreLog(cfg)
	if err != nil {
		return nil, err
	}
	storageKey, err := ReadStorageKey(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer clear(storageKey)
	dir := cfg.Path(cfg.DataDir)
	done := &Restored{}

	var old *logHead
	if o.Replace && holdsFiles(dir) {
		if running(ctx, cfg) {
			return nil, errors.New("restore: the node is running (its admin socket answers); stop it first")
		}
		if old, err = readLogHead(dir, storageKey, l, id, log); err != nil {
			return nil, fmt.Errorf("restore: read the log of the store to replace in %s: %w; move the directory aside yourself and restore into an empty one", dir, err)
		}
		done.Aside = dir + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(dir, done.Aside); err != nil {
			return nil, fmt.Errorf("restore: move the data directory aside: %w", err)
		}
	}
	defer func() {
		if err != nil && done.Aside != "" {
			os.RemoveAll(dir)
			os.Rename(done.Aside, dir)
		}
	}()

	ageID, err := age.NewScryptIdentity(backupPassphrase(storageKey))
	if err != nil {
		return nil, err
	}
	plain, err := age.Decrypt(r, ageID)
	if err != nil {
		return nil, fmt.Errorf("restore: not a backup of this node, or damaged: %w", err)
	}
	if err := store.RestoreInto(dir, storageKey, plain, log); err != nil {
		return nil, err
	}
	if done.Entry, err = logRestore(dir, storageKey, l, id, old, log); err != nil {
		store.RemoveContents(dir) // a restore that is not logged is not made
		return nil, fmt.Errorf("restore: %w", err)
	}
	return done, nil
}

// restoreLog returns the node's audit log (to append to a store it does
// not run) and its peer ID.
func restoreLog(cfg *config.Config) (*audit.Log, peer.ID, error) {
	identity, err := LoadIdentity(cfg.Path(cfg.IdentityKey))
	if err != nil {
		return nil, "", err
	}
	id, err := peer.IDFromPrivateKey(identity)
	if err != nil {
		return nil, "", fmt.Errorf("identity key: %w", err)
	}
	raw, err := identity.Raw()
	if err != nil {
		return nil, "", fmt.Errorf("identity key: %w", err)
	}
	defer clear(raw)
	l, err := audit.New(api.LogOrigin(cfg.Name), raw)
	return l, id, err
}

// running reports whether the node of cfg answers on its admin socket.
func running(ctx context.Context, cfg *config.Config) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := AdminClient(cfg).Status(ctx)
	return err == nil
}

// holdsFiles reports whether dir exists and holds anything (or cannot be
// read, which is no reason to think it empty).
func holdsFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return err != nil || len(entries) > 0
}

// logHead is a log's size and tree root.
type logHead struct {
	size int64
	root tlog.Hash
}

// readLogHead opens the store in dir, which must be this node's, and
// returns the head of its log l.
func readLogHead(dir string, storageKey []byte, l *audit.Log, id peer.ID, log *zap.Logger) (*logHead, error) {
	s, err := store.Open(dir, storageKey, log)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := checkOwner(s, id); err != nil {
		return nil, err
	}
	var head logHead
	err = s.View(func(tx *store.Tx) error {
		var err error
		if head.size, err = l.Size(tx); err != nil {
			return err
		}
		head.root, err = l.TreeHash(tx, head.size)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &head, s.Close()
}

// checkOwner refuses a store that another identity made.
func checkOwner(s *store.Store, id peer.ID) error {
	return s.View(func(tx *store.Tx) error {
		owner, err := tx.Meta("peer_id")
		if errors.Is(err, store.ErrNotFound) {
			return nil // a store no node has run on yet
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(owner, []byte(id)) {
			other, _ := peer.IDFromBytes(owner)
			return fmt.Errorf("the store belongs to node %s, not to this identity %s", other, id)
		}
		return nil
	})
}

// logRestore appends the restore entry to the restored store in dir and
// returns its text.
func logRestore(dir string, storageKey []byte, l *audit.Log, id peer.ID, old *logHead, log *zap.Logger) (string, error) {
	s, err := store.Open(dir, storageKey, log)
	if err != nil {
		return "", fmt.Errorf("open the restored store: %w", err)
	}
	defer s.Close()
	if err := checkOwner(s, id); err != nil {
		return "", fmt.Errorf("the backup: %w", err)
	}
	var text string
	err = s.Update(context.Background(), func(tx *store.Tx) error {
		n, err := l.Size(tx)
		if err != nil {
			return err
		}
		text = restoreEntryText(n, old)
		_, err = l.AppendEntry(tx, &api.Entry{Kind: api.EntryKind_ADMIN, Admin: text}, time.Now())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("log the restore: %w", err)
	}
	return text, s.Close()
}

// restoreEntryText is the ADMIN text of a restore of a backup whose log has
// size entries, over old (nil when the data directory held no store).
func restoreEntryText(size int64, old *logHead) string {
	r := api.Restore{BackupSize: size}
	if old != nil {
		r.Replaced, r.ReplacedSize, r.ReplacedRoot = true, old.size, old.root
	}
	return r.Text()
}
