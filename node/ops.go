package node

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/admin"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/store"
)

// The admin operations, which package admin serves on the node's socket.

var _ admin.Ops = (*Node)(nil)

// Status reports the node's health and size, with its latest checkpoint.
func (n *Node) Status(ctx context.Context) (*admin.Status, error) {
	st, err := n.store.Stats()
	if err != nil {
		return nil, err
	}
	card := n.Card()
	out := &admin.Status{
		Name: n.cfg.Name, PeerID: card.PeerID, Addrs: card.Addrs, Ready: !n.closing.Load(), Started: n.started,
		Accounts: st.Accounts, LockedAccounts: st.LockedAccounts, Shares: st.Shares, LogSize: st.LogSize, DiskBytes: st.DiskBytes, ReserveBytes: st.ReserveBytes,
		Commits: st.Commits, Updates: st.Updates,
	}
	err = n.store.View(func(tx *store.Tx) error {
		cp, err := n.audit.Checkpoint(tx, st.LogSize)
		out.Checkpoint = string(cp)
		return err
	})
	return out, err
}

// Users lists the accounts.
func (n *Node) Users(ctx context.Context) ([]admin.User, error) {
	var users []admin.User
	err := n.store.View(func(tx *store.Tx) error {
		return tx.Accounts(func(a *store.Account) error {
			dev, _ := peer.IDFromBytes(a.DevicePeerID)
			u := admin.User{User: a.User, Device: dev.String(), Locked: a.Locked, Failures: a.Failures, Epoch: a.Current.Epoch, Created: a.Created}
			if a.Staged != nil {
				u.StagedEpoch = a.Staged.Epoch
			}
			users = append(users, u)
			return nil
		})
	})
	return users, err
}

// Invite makes a one-time enrollment token.
func (n *Node) Invite(ctx context.Context, user string, ttl time.Duration) (string, time.Time, error) {
	return n.auth.Invite(ctx, user, ttl)
}

// Lock locks an account and ends its sessions.
func (n *Node) Lock(ctx context.Context, user string) error {
	defer n.refreshGauges()
	return n.auth.Lock(ctx, user)
}

// Unlock unlocks an account.
func (n *Node) Unlock(ctx context.Context, user string) error {
	defer n.refreshGauges()
	return n.auth.Unlock(ctx, user)
}

// backupPassphrase derives the passphrase of the node's backups from its
// storage key: a backup opens with the storage key, as the data directory
// does, and with nothing else. The key is 256 random bits, so age's scrypt
// can run at its lowest work factor.
func backupPassphrase(storageKey []byte) string {
	b, err := hkdf.Key(sha256.New, storageKey, nil, "custos/v1/node/backup", 32)
	if err != nil {
		panic("node: internal error: hkdf: " + err.Error())
	}
	return hex.EncodeToString(b)
}

const backupWorkFactor = 10

// Backup writes the whole store to w as an age file encrypted under the
// backup passphrase, and logs that it did.
func (n *Node) Backup(ctx context.Context, w io.Writer) error {
	rcpt, err := age.NewScryptRecipient(n.backupPass)
	if err != nil {
		return err
	}
	rcpt.SetWorkFactor(backupWorkFactor)
	if err := n.store.Update(ctx, func(tx *store.Tx) error {
		_, err := n.record(tx, &api.Entry{Kind: api.EntryKind_ADMIN, Admin: "backup"})
		return err
	}); err != nil {
		return err
	}
	aw, err := age.Encrypt(w, rcpt)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := n.store.Backup(aw); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return aw.Close()
}

// adminSocket is where the node's admin socket lives.
func adminSocket(cfg *config.Config) string { return cfg.Path(admin.SocketName) }

// AdminClient returns a client of the admin socket of the node whose
// configuration is cfg.
func AdminClient(cfg *config.Config) *admin.Client { return admin.NewClient(adminSocket(cfg)) }
