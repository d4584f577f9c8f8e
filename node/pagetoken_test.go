package node

import (
	"bytes"
	"errors"
	"testing"

	"github.com/custos-network/custos/api"
)

// FuzzParsePageToken reads list page tokens as a node reads them from a
// peer: what it accepts is a unit version whose token is the input again;
// anything else is INVALID_ARGUMENT.
func FuzzParsePageToken(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, api.UnitIDSize+8))
	f.Add(make([]byte, api.UnitIDSize+7))
	f.Add(bytes.Repeat([]byte{0xff}, api.UnitIDSize+9))
	f.Fuzz(func(t *testing.T, token []byte) {
		u, err := parsePageToken(token)
		switch {
		case err != nil:
			if !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("refused with %v; want INVALID_ARGUMENT", err)
			}
		case u == nil:
			if len(token) != 0 {
				t.Fatalf("a token of %d bytes read as the first page", len(token))
			}
		case !bytes.Equal(pageToken(u), token):
			t.Fatalf("token %x read as %x/%d, which is token %x", token, u.Unit, u.Version, pageToken(u))
		}
	})
}
