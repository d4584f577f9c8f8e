package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/internal/atomicfile"
)

// NewRecoveryKey makes the key a vault export is encrypted to when the
// user gives no age recipient: an age key (post-quantum hybrid), printed
// once for the user to keep offline. Its String is the key to print.
func NewRecoveryKey() (*age.HybridIdentity, error) {
	return age.GenerateHybridIdentity()
}

// ExportVault writes the vault to a new file out (mode 0600; an existing
// file is never overwritten), encrypted with age to recipients: every
// record, the login dealing, the master secret, but not the device key
// (vault.Handle.Export). It asks no node. Keep the file and the key it is
// encrypted to offline: together they open every record with the password.
func (c *Client) ExportVault(out string, recipients ...age.Recipient) error {
	if len(recipients) == 0 {
		return errors.New("export vault: no recipient to encrypt to")
	}
	done, err := c.begin(false)
	if err != nil {
		return err
	}
	defer done()
	hdr := vault.ExportHeader{User: c.v.User, Device: c.host.ID().String(), Created: time.Now()}
	err = atomicfile.Create(out, 0o600, func(w io.Writer) error {
		aw, err := age.Encrypt(w, recipients...)
		if err != nil {
			return err
		}
		if err := c.vh.Export(aw, hdr); err != nil {
			return err
		}
		return aw.Close()
	})
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("export vault: %s exists already; choose another --out", out)
	}
	return err
}

// ErrNoMove is the error of FinishImport for a vault with no import under
// way.
var ErrNoMove = errors.New("no vault import is under way for this vault")

// A Move is a vault import under way, recorded beside the vault (its path
// with ".move") from before the vault is made until the move is done: the
// device the export came from, and whether it stays enrolled.
type Move struct {
	User      string  `json:"user"`
	OldDevice peer.ID `json:"old_device"`
	KeepOld   bool    `json:"keep_old"`
}

const (
	moveVersion = 1
	maxMoveFile = 4 << 10
)

func movePath(vaultPath string) string { return vaultPath + ".move" }

// ReadMove returns the import under way for the vault at path, or nil.
func ReadMove(path string) (*Move, error) {
	f, err := os.Open(movePath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read the vault import record: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMoveFile+1))
	if err != nil {
		return nil, fmt.Errorf("read the vault import record: %w", err)
	}
	m, err := parseMove(b)
	if err != nil {
		return nil, fmt.Errorf("read the vault import record %s: %w", movePath(path), err)
	}
	return m, nil
}

func parseMove(b []byte) (*Move, error) {
	if len(b) > maxMoveFile {
		return nil, errors.New("it is too large")
	}
	var r struct {
		V int `json:"v"`
		Move
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, errors.New("it is not a JSON object of the expected fields")
	}
	switch {
	case r.V != moveVersion:
		return nil, fmt.Errorf("unknown version %d", r.V)
	case !api.ValidUser(r.User):
		return nil, errors.New("the user name is not valid")
	case r.OldDevice.Validate() != nil:
		return nil, errors.New("the old device is not a peer ID")
	}
	return &r.Move, nil
}

func writeMove(path string, m *Move) error {
	b, err := json.Marshal(struct {
		V int `json:"v"`
		*Move
	}{moveVersion, m})
	if err != nil {
		return err
	}
	return atomicfile.Write(movePath(path), "", b)
}

// ImportStep is a step of a vault import that has just been made durable,
// for progress and for tests that stop the import there.
type ImportStep string

const (
	// ImportRecorded: the import record is written, the vault not yet.
	ImportRecorded ImportStep = "recorded"
	// ImportVaultMade: the new vault is in place, with a new device key.
	ImportVaultMade ImportStep = "vault"
	// ImportDeviceAdded: every node enrolled the new device.
	ImportDeviceAdded ImportStep = "added"
	// ImportOldRevoked: every node revoked the old device (unless kept).
	ImportOldRevoked ImportStep = "revoked"
)

// BeginImport makes the vault at path from an export (age-encrypted, read
// from r with identities), with a new device key: the first half of a
// vault import. It records the import first (ReadMove), so that a run cut
// short anywhere is finished by running it again: when the record exists
// and the vault does too, it reads nothing and returns the record; a vault
// at path without a record is refused. keepOld keeps the export's device
// enrolled (a second device) instead of revoking it. step, if not nil, is
// told of each step once it is durable.
func BeginImport(path string, r io.Reader, keepOld bool, step func(ImportStep), identities ...age.Identity) (*Move, error) {
	if step == nil {
		step = func(ImportStep) {}
	}
	m, err := ReadMove(path)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Lstat(path)
	switch {
	case m != nil && statErr == nil:
		return m, nil
	case m == nil && statErr == nil:
		return nil, fmt.Errorf("import vault: a vault exists at %s already; import to another path (--vault)", path)
	}
	plain, err := age.Decrypt(r, identities...)
	if err != nil {
		return nil, fmt.Errorf("import vault: decrypt the export: %w", err)
	}
	key, err := newDeviceKey()
	if err != nil {
		return nil, err
	}
	defer clear(key)
	record := func(hdr *vault.ExportHeader) error {
		old, err := peer.Decode(hdr.Device)
		if err != nil {
			return fmt.Errorf("import vault: %w: the export's device is not a peer ID", vault.ErrExportFormat)
		}
		if m != nil && (m.OldDevice != old || m.User != hdr.User) {
			return fmt.Errorf("import vault: an import of another export is under way at %s (from %s)", path, m.OldDevice)
		}
		m = &Move{User: hdr.User, OldDevice: old, KeepOld: keepOld}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("import vault: %w", err)
		}
		if err := writeMove(path, m); err != nil {
			return fmt.Errorf("import vault: record the import: %w", err)
		}
		step(ImportRecorded)
		return nil
	}
	if _, err := vault.Import(path, plain, key, record); err != nil {
		return nil, err
	}
	step(ImportVaultMade)
	return m, nil
}

// newDeviceKey makes a device key as Init does, marshalled.
func newDeviceKey() ([]byte, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	return crypto.MarshalPrivateKey(key)
}

// FinishImport is the second half of a vault import, on the client of the
// new vault: it enrolls this device at every node with its new-device
// token (AddDevice; a node where it is enrolled already needs none), then,
// unless the import keeps it, revokes the export's device at every node,
// and removes the import record. Each step is done again or skipped when
// it was done, so a run cut short is finished by the next one. It returns
// AddDevice's errors, node by node; the error names the nodes that did not
// take a step.
func (c *Client) FinishImport(ctx context.Context, password []byte, tokens map[string]string, step func(ImportStep)) ([]error, error) {
	if step == nil {
		step = func(ImportStep) {}
	}
	m, err := ReadMove(c.vh.Path())
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, ErrNoMove
	}
	errs, err := c.AddDevice(ctx, password, tokens)
	if err != nil {
		return errs, err
	}
	if err := c.quorum("enroll this device", len(c.nodes), errs); err != nil {
		return errs, err
	}
	step(ImportDeviceAdded)
	if !m.KeepOld && m.OldDevice != c.host.ID() {
		if err := c.revokeEverywhere(ctx, m.OldDevice); err != nil {
			return errs, err
		}
	}
	step(ImportOldRevoked)
	if err := os.Remove(movePath(c.vh.Path())); err != nil {
		return errs, fmt.Errorf("remove the vault import record: %w", err)
	}
	return errs, atomicfile.SyncDir(filepath.Dir(c.vh.Path()))
}

// revokeEverywhere revokes id at every node; a node that does not know
// it (it was never enrolled there) has nothing to revoke.
func (c *Client) revokeEverywhere(ctx context.Context, id peer.ID) error {
	nodes, err := c.RevokeDevice(ctx, id)
	if err == nil {
		return nil
	}
	if nodes == nil {
		return err
	}
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		if !errors.Is(n.Err, api.ErrNotFound) {
			errs[i] = n.Err
		}
	}
	return c.quorum(fmt.Sprintf("revoke device %s", id), len(c.nodes), errs)
}
