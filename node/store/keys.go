package store

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// Keyspace prefixes; the layout is documented in doc.go.
const (
	prefixMeta     byte = 0x01
	prefixAccount  byte = 0x02
	prefixInvite   byte = 0x03
	prefixShare    byte = 0x04
	prefixLogEntry byte = 0x05
	prefixLogHash  byte = 0x06
	prefixLogSize  byte = 0x07
	prefixOprfKey  byte = 0x09 // 0x08 is the key check (keycheck.go)
)

// Limits on what callers may store. They keep every record far below
// Badger's batch limits, so one Update of ordinary size always fits one
// transaction.
const (
	// MaxUserLen is the longest user name, in bytes: the protocol's.
	MaxUserLen = api.MaxUserLen
	// MaxShareLen is the largest share value.
	MaxShareLen = 64
	// MaxLogEntryLen is the largest audit log entry.
	MaxLogEntryLen = 256 << 10
	// MaxMetaNameLen and MaxMetaValueLen bound node metadata.
	MaxMetaNameLen  = 128
	MaxMetaValueLen = 64 << 10
	// MaxPeerIDLen bounds an account's device peer ID (a multihash, in
	// practice 38 bytes for an Ed25519 key).
	MaxPeerIDLen = 128
)

// checkUser enforces the rules for a user name: non-empty, at most
// MaxUserLen bytes, valid UTF-8 and no NUL. The name is not put in the
// error, which may reach a log.
func checkUser(user string) error {
	switch {
	case user == "":
		return fmt.Errorf("%w: empty user name", ErrInvalid)
	case len(user) > MaxUserLen:
		return fmt.Errorf("%w: user name is %d bytes, more than %d", ErrInvalid, len(user), MaxUserLen)
	case !utf8.ValidString(user):
		return fmt.Errorf("%w: user name is not valid UTF-8", ErrInvalid)
	}
	for i := 0; i < len(user); i++ {
		if user[i] == 0 {
			return fmt.Errorf("%w: user name contains NUL", ErrInvalid)
		}
	}
	return nil
}

func checkIndex(what string, i int64) error {
	if i < 0 {
		return fmt.Errorf("%w: negative %s %d", ErrInvalid, what, i)
	}
	return nil
}

func metaKey(name string) []byte {
	return append([]byte{prefixMeta}, name...)
}

func accountKey(user string) []byte {
	return append([]byte{prefixAccount}, user...)
}

func inviteKey(hash [32]byte) []byte {
	return append([]byte{prefixInvite}, hash[:]...)
}

// sharePrefix is the prefix of every share key of user.
func sharePrefix(user string) []byte {
	k := make([]byte, 0, 3+len(user)+threshold.UnitIDSize+8)
	k = append(k, prefixShare)
	k = binary.BigEndian.AppendUint16(k, uint16(len(user)))
	return append(k, user...)
}

func shareKey(user string, unit threshold.UnitID, version uint64) []byte {
	k := append(sharePrefix(user), unit[:]...)
	return binary.BigEndian.AppendUint64(k, version)
}

// parseShareKeyTail reads the unit and version that follow a user's share
// prefix.
func parseShareKeyTail(tail []byte) (UnitVersion, error) {
	if len(tail) != threshold.UnitIDSize+8 {
		return UnitVersion{}, fmt.Errorf("%w: share key of %d bytes after the user", ErrCorrupt, len(tail))
	}
	var uv UnitVersion
	copy(uv.Unit[:], tail)
	uv.Version = binary.BigEndian.Uint64(tail[threshold.UnitIDSize:])
	return uv, nil
}

// oprfKeyKey is the key of user's OPRF key share of epoch. The user is
// length-prefixed, as in a share key.
func oprfKeyKey(user string, epoch uint32) []byte {
	return binary.BigEndian.AppendUint32(oprfKeyPrefix(user), epoch)
}

// oprfKeyPrefix is the prefix of every OPRF key share key of user.
func oprfKeyPrefix(user string) []byte {
	k := make([]byte, 0, 3+len(user)+4)
	k = append(k, prefixOprfKey)
	k = binary.BigEndian.AppendUint16(k, uint16(len(user)))
	return append(k, user...)
}

func logEntryKey(index int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixLogEntry}, uint64(index))
}

func logHashKey(index int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixLogHash}, uint64(index))
}

func logSizeKey() []byte { return []byte{prefixLogSize} }
