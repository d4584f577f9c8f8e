package threshold

import "encoding/binary"

// Every hashed or authenticated byte string in the construction is a
// concatenation of fields. A field of variable length (a label, a user name, a
// peer ID) is written as its length in 4 bytes big-endian followed by its
// bytes; a field of fixed length (a unit ID, a version, a share) is written as
// it is, a version as 8 bytes big-endian. This makes every encoding
// unambiguous: no two different field lists give the same bytes.

func appendVar(b, field []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
	return append(b, field...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendVersion(b []byte, version uint64) []byte {
	return binary.BigEndian.AppendUint64(b, version)
}
