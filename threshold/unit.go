package threshold

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// UnitIDSize is the size in bytes of a unit ID.
const UnitIDSize = 16

// UnitID names one record ("unit") at the custodians. It is random, so it
// says nothing about the record; the record's label never leaves the device.
type UnitID [UnitIDSize]byte

// NewUnitID returns a fresh random unit ID.
func NewUnitID() (UnitID, error) {
	var u UnitID
	if _, err := rand.Read(u[:]); err != nil {
		return UnitID{}, fmt.Errorf("read random bytes: %w", err)
	}
	return u, nil
}

var errUnitID = errors.New("threshold: a unit ID is 32 hexadecimal digits")

// ParseUnitID parses the 32 hexadecimal digits that String returns.
func ParseUnitID(s string) (UnitID, error) {
	var u UnitID
	if len(s) != 2*UnitIDSize {
		return UnitID{}, errUnitID
	}
	if _, err := hex.Decode(u[:], []byte(s)); err != nil {
		return UnitID{}, errUnitID
	}
	return u, nil
}

// String returns the unit ID as 32 lower-case hexadecimal digits.
func (u UnitID) String() string { return hex.EncodeToString(u[:]) }

// MarshalText encodes the unit ID as String does.
func (u UnitID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText decodes what MarshalText wrote.
func (u *UnitID) UnmarshalText(b []byte) error {
	v, err := ParseUnitID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}
