package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/custos-network/custos/threshold"
)

// accountPage is how many accounts Accounts decodes before it calls back, so
// that the callback runs with no iterator open and may read and write.
const accountPage = 64

// Account returns user's account, or an error wrapping ErrNotFound.
func (tx *Tx) Account(user string) (*Account, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	b, err := tx.get(accountKey(user))
	if err != nil {
		return nil, fmt.Errorf("get account: %w", err)
	}
	a, err := decodeAccount(b)
	if err != nil {
		return nil, err
	}
	if a.User != user {
		return nil, fmt.Errorf("%w: account record is stored under another user's key", ErrCorrupt)
	}
	return a, nil
}

// PutAccount creates or replaces a.User's account.
func (tx *Tx) PutAccount(a *Account) error {
	b, err := encodeAccount(a)
	if err != nil {
		return err
	}
	return tx.set(accountKey(a.User), b)
}

// DeleteAccount deletes user's account and every OPRF key share of the
// user's, of any epoch: what closing an account at a node removes (the
// caller checks that no share of the user's is left). An error wraps
// ErrNotFound when there is no account.
func (tx *Tx) DeleteAccount(user string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	key := accountKey(user)
	ok, err := tx.exists(key)
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	if !ok {
		return fmt.Errorf("delete account: %w", ErrNotFound)
	}
	var keys [][]byte
	if _, err := tx.scan(oprfKeyPrefix(user), nil, true, 0, func(k, _ []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		return fmt.Errorf("delete account: list OPRF key shares: %w", err)
	}
	for _, k := range append(keys, key) {
		if err := tx.del(k); err != nil {
			return fmt.Errorf("delete account: %w", err)
		}
	}
	return nil
}

// Accounts calls each for every account, in order of user name (bytewise),
// and stops at the first error, which it returns. each may read and write
// through tx; accounts it writes after the current one are seen as written.
func (tx *Tx) Accounts(each func(*Account) error) error {
	prefix := []byte{prefixAccount}
	var start []byte
	for {
		var page []*Account
		next, err := tx.scan(prefix, start, false, accountPage, func(key, value []byte) error {
			a, err := decodeAccount(value)
			if err != nil {
				return err
			}
			if a.User != string(key[1:]) {
				return fmt.Errorf("%w: account record is stored under another user's key", ErrCorrupt)
			}
			page = append(page, a)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		for _, a := range page {
			if err := each(a); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		start = next
	}
}

// Invite returns the invite whose token hashes to hash, or an error
// wrapping ErrNotFound.
func (tx *Tx) Invite(hash [32]byte) (*Invite, error) {
	b, err := tx.get(inviteKey(hash))
	if err != nil {
		return nil, fmt.Errorf("get invite: %w", err)
	}
	inv, err := decodeInvite(b)
	if err != nil {
		return nil, err
	}
	if inv.Hash != hash {
		return nil, fmt.Errorf("%w: invite record is stored under another hash", ErrCorrupt)
	}
	return inv, nil
}

// PutInvite creates or replaces the invite under inv.Hash.
func (tx *Tx) PutInvite(inv *Invite) error {
	b, err := encodeInvite(inv)
	if err != nil {
		return err
	}
	return tx.set(inviteKey(inv.Hash), b)
}

// DeleteInvite deletes an invite. An error wrapping ErrNotFound means there
// was none, so a token redeemed twice is caught by the second delete.
func (tx *Tx) DeleteInvite(hash [32]byte) error {
	key := inviteKey(hash)
	ok, err := tx.exists(key)
	if err != nil {
		return fmt.Errorf("delete invite: %w", err)
	}
	if !ok {
		return fmt.Errorf("delete invite: %w", ErrNotFound)
	}
	return tx.del(key)
}

// UnitVersion names one stored share of a user.
type UnitVersion struct {
	Unit    threshold.UnitID
	Version uint64
}

// PutShare seals share (1 to MaxShareLen bytes) for user, unit and version
// and stores it, replacing any share there. The caller still owns, and
// should wipe, share.
func (tx *Tx) PutShare(user string, unit threshold.UnitID, version uint64, share []byte) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if len(share) == 0 || len(share) > MaxShareLen {
		return fmt.Errorf("%w: share is %d bytes, want 1 to %d", ErrInvalid, len(share), MaxShareLen)
	}
	wrapped, err := sealShare(tx.s.shareAEAD, user, unit, version, share)
	if err != nil {
		return fmt.Errorf("put share: %w", err)
	}
	return tx.set(shareKey(user, unit, version), wrapped)
}

// Share returns the plaintext share of user for unit and version, which the
// caller must wipe when done. An error wraps ErrNotFound if there is none,
// and ErrCorrupt if the stored value does not open for this key (it was
// damaged, or moved from another user, unit or version).
func (tx *Tx) Share(user string, unit threshold.UnitID, version uint64) ([]byte, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	wrapped, err := tx.get(shareKey(user, unit, version))
	if err != nil {
		return nil, fmt.Errorf("get share: %w", err)
	}
	return unwrapShare(tx.s.shareAEAD, user, unit, version, wrapped)
}

// DeleteShare deletes one share; an error wraps ErrNotFound if it is absent.
func (tx *Tx) DeleteShare(user string, unit threshold.UnitID, version uint64) error {
	if err := checkUser(user); err != nil {
		return err
	}
	key := shareKey(user, unit, version)
	ok, err := tx.exists(key)
	if err != nil {
		return fmt.Errorf("delete share: %w", err)
	}
	if !ok {
		return fmt.Errorf("delete share: %w", ErrNotFound)
	}
	return tx.del(key)
}

// Units lists the shares user holds here, sorted by unit and then version.
func (tx *Tx) Units(user string) ([]UnitVersion, error) {
	out, _, err := tx.UnitsPage(user, nil, 0)
	return out, err
}

// UnitsPage lists, in the order of Units, at most limit of the shares user
// holds here (all of them for a limit of 0), from start on (nil: from the
// first). next is where the page after starts, nil after the last one. A
// start that names no share begins at the first share after it.
func (tx *Tx) UnitsPage(user string, start *UnitVersion, limit int) (units []UnitVersion, next *UnitVersion, err error) {
	if err := checkUser(user); err != nil {
		return nil, nil, err
	}
	if limit < 0 {
		return nil, nil, fmt.Errorf("%w: page of %d units", ErrInvalid, limit)
	}
	prefix := sharePrefix(user)
	var from []byte
	if start != nil {
		from = shareKey(user, start.Unit, start.Version)
	}
	nextKey, err := tx.scan(prefix, from, true, limit, func(key, _ []byte) error {
		uv, err := parseShareKeyTail(key[len(prefix):])
		if err != nil {
			return err
		}
		units = append(units, uv)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list units: %w", err)
	}
	if nextKey != nil {
		uv, err := parseShareKeyTail(nextKey[len(prefix):])
		if err != nil {
			return nil, nil, fmt.Errorf("list units: %w", err)
		}
		next = &uv
	}
	return units, next, nil
}

// PutOprfKeyShare seals user's OPRF key share r_i of the dealing of epoch
// (OprfKeyShareLen bytes) and stores it, replacing any key share there.
// The caller still owns, and should wipe, share.
func (tx *Tx) PutOprfKeyShare(user string, epoch uint32, share []byte) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if epoch == 0 {
		return fmt.Errorf("%w: OPRF key share of epoch 0", ErrInvalid)
	}
	if len(share) != OprfKeyShareLen {
		return fmt.Errorf("%w: OPRF key share is %d bytes, want %d", ErrInvalid, len(share), OprfKeyShareLen)
	}
	sealed, err := seal(tx.s.shareAEAD, oprfKeyAD(user, epoch), share)
	if err != nil {
		return fmt.Errorf("put OPRF key share: %w", err)
	}
	return tx.set(oprfKeyKey(user, epoch), sealed)
}

// OprfKeyShare returns user's plaintext OPRF key share of epoch, which the
// caller must wipe when done. An error wraps ErrNotFound if there is none,
// and ErrCorrupt if the stored value does not open for this user and epoch.
func (tx *Tx) OprfKeyShare(user string, epoch uint32) ([]byte, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	sealed, err := tx.get(oprfKeyKey(user, epoch))
	if err != nil {
		return nil, fmt.Errorf("get OPRF key share: %w", err)
	}
	share, err := unwrap(tx.s.shareAEAD, "OPRF key share", OprfKeyShareLen, oprfKeyAD(user, epoch), sealed)
	if err != nil {
		return nil, err
	}
	if len(share) != OprfKeyShareLen {
		clear(share)
		return nil, fmt.Errorf("%w: stored OPRF key share has the wrong size", ErrCorrupt)
	}
	return share, nil
}

// DeleteOprfKeyShare deletes user's OPRF key share of epoch; an error wraps
// ErrNotFound if it is absent.
func (tx *Tx) DeleteOprfKeyShare(user string, epoch uint32) error {
	if err := checkUser(user); err != nil {
		return err
	}
	key := oprfKeyKey(user, epoch)
	ok, err := tx.exists(key)
	if err != nil {
		return fmt.Errorf("delete OPRF key share: %w", err)
	}
	if !ok {
		return fmt.Errorf("delete OPRF key share: %w", ErrNotFound)
	}
	return tx.del(key)
}

// LogSize returns the stored size of the audit log, 0 when none is stored.
func (tx *Tx) LogSize() (int64, error) {
	b, err := tx.get(logSizeKey())
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get log size: %w", err)
	}
	if len(b) != 8 || binary.BigEndian.Uint64(b) > math.MaxInt64 {
		return 0, fmt.Errorf("%w: log size record", ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// SetLogSize stores the size of the audit log.
func (tx *Tx) SetLogSize(n int64) error {
	if err := checkIndex("log size", n); err != nil {
		return err
	}
	return tx.set(logSizeKey(), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// PutLogEntry stores the audit log entry at index (at most MaxLogEntryLen
// bytes; the store keeps its own copy).
func (tx *Tx) PutLogEntry(index int64, entry []byte) error {
	if err := checkIndex("log index", index); err != nil {
		return err
	}
	if len(entry) > MaxLogEntryLen {
		return fmt.Errorf("%w: log entry is %d bytes, more than %d", ErrInvalid, len(entry), MaxLogEntryLen)
	}
	return tx.set(logEntryKey(index), append([]byte{}, entry...))
}

// LogEntry returns the audit log entry at index, or an error wrapping
// ErrNotFound.
func (tx *Tx) LogEntry(index int64) ([]byte, error) {
	if err := checkIndex("log index", index); err != nil {
		return nil, err
	}
	b, err := tx.get(logEntryKey(index))
	if err != nil {
		return nil, fmt.Errorf("get log entry: %w", err)
	}
	return b, nil
}

// PutLogHash stores a Merkle tree hash at its tlog storage index.
func (tx *Tx) PutLogHash(storageIndex int64, h [32]byte) error {
	if err := checkIndex("log hash index", storageIndex); err != nil {
		return err
	}
	return tx.set(logHashKey(storageIndex), append([]byte{}, h[:]...))
}

// Committed reports whether tx reads committed state only and writes
// nothing: whether it is a View's. The audit log keeps the tree hashes it
// reads through such a transaction in memory (audit.Tx).
func (tx *Tx) Committed() bool { return tx.overlay == nil }

// LogHash returns the hash at a tlog storage index, or an error wrapping
// ErrNotFound.
func (tx *Tx) LogHash(storageIndex int64) ([32]byte, error) {
	var h [32]byte
	if err := checkIndex("log hash index", storageIndex); err != nil {
		return h, err
	}
	b, err := tx.get(logHashKey(storageIndex))
	if err != nil {
		return h, fmt.Errorf("get log hash: %w", err)
	}
	if len(b) != len(h) {
		return h, fmt.Errorf("%w: log hash of %d bytes", ErrCorrupt, len(b))
	}
	copy(h[:], b)
	return h, nil
}

func checkMetaName(name string) error {
	if name == "" || len(name) > MaxMetaNameLen {
		return fmt.Errorf("%w: metadata name is %d bytes, want 1 to %d", ErrInvalid, len(name), MaxMetaNameLen)
	}
	return nil
}

// Meta returns the node metadata value called name, or an error wrapping
// ErrNotFound.
func (tx *Tx) Meta(name string) ([]byte, error) {
	if err := checkMetaName(name); err != nil {
		return nil, err
	}
	b, err := tx.get(metaKey(name))
	if err != nil {
		return nil, fmt.Errorf("get metadata: %w", err)
	}
	return b, nil
}

// SetMeta stores a small (at most MaxMetaValueLen bytes) metadata value.
func (tx *Tx) SetMeta(name string, value []byte) error {
	if err := checkMetaName(name); err != nil {
		return err
	}
	if len(value) > MaxMetaValueLen {
		return fmt.Errorf("%w: metadata value is %d bytes, more than %d", ErrInvalid, len(value), MaxMetaValueLen)
	}
	return tx.set(metaKey(name), append([]byte{}, value...))
}
