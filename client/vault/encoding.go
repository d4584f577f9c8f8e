package vault

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The values of the vault's database are in one binary encoding
// (docs/vault.md, "Value encodings"): integers big-endian and of fixed
// size, byte strings with their length before them as a u32, booleans one
// byte (0 or 1), times as i64 Unix seconds and u32 nanoseconds. A value
// has one encoding only: a reader takes every byte of it, refuses a
// length that runs past its end, a boolean other than 0 or 1, nanoseconds
// of a whole second or more, and bytes left over.

// errShort is a value that ends before its last field.
var errShort = errors.New("it ends in the middle of a field")

// reader decodes one value. The first error sticks: later reads return
// zero values, and end reports it.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// take returns the next n bytes of the value itself (not a copy).
func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) boolean() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(errors.New("a boolean is neither 0 nor 1"))
	return false
}

// bytes reads a length-prefixed byte string of at most max bytes into a
// new slice: the caller owns it, and nothing of the database is kept.
func (r *reader) bytes(max int) []byte {
	n := r.u32()
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		r.fail(fmt.Errorf("a field of %d bytes is longer than the %d it may be", n, max))
		return nil
	}
	b := r.take(int(n))
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func (r *reader) str(max int) string { return string(r.bytes(max)) }

// fixed copies the next len(dst) bytes into dst.
func (r *reader) fixed(dst []byte) { copy(dst, r.take(len(dst))) }

func (r *reader) time() time.Time {
	sec, nsec := int64(r.u64()), r.u32()
	if nsec >= 1e9 {
		r.fail(errors.New("a time has a whole second or more in its nanoseconds"))
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// end returns the first error, or an error if bytes are left over.
func (r *reader) end() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d bytes are left over after its last field", len(r.b))
	}
	return r.err
}

func putU16(b []byte, x uint16) []byte { return binary.BigEndian.AppendUint16(b, x) }
func putU32(b []byte, x uint32) []byte { return binary.BigEndian.AppendUint32(b, x) }
func putU64(b []byte, x uint64) []byte { return binary.BigEndian.AppendUint64(b, x) }

// putBytes appends x with its length before it as a u32 (lp in the MAC
// constructions).
func putBytes(b, x []byte) []byte { return appendLP(b, x) }

func putTime(b []byte, t time.Time) []byte { return appendTime(b, t) }
