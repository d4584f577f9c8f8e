package threshold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSecretsNeverPrint(t *testing.T) {
	pattern := bytes.Repeat([]byte{0xa5}, ShareSize)
	values := map[string]any{
		"ServerKey":          ServerKey{secretFrom(pattern[:KeySize])},
		"MasterSecret":       MasterSecret{secretFrom(pattern[:KeySize])},
		"ClientKey":          ClientKey{secretFrom(pattern[:KeySize])},
		"DataKey":            DataKey{secretFrom(pattern[:KeySize])},
		"PasswordKey":        PasswordKey{secretFrom(pattern[:KeySize])},
		"NodeAuthKey":        NodeAuthKey{secretFrom(bytes.Repeat(pattern[:1], 64))},
		"RandomizedPassword": RandomizedPassword{secretFrom(bytes.Repeat(pattern[:1], RandomizedPasswordSize))},
		"Share":              mustShare(pattern),
	}
	// Traces of 0xa5 bytes in the forms fmt and encoding/json know, long
	// enough that no pointer address printed alongside matches by chance.
	leaks := []string{"a5a5a5a5a5a5", "A5A5A5A5A5A5", "165 165", "10100101 10100101", "245 245", "paWlpaWl", `\xa5`, "\xa5\xa5", "\u00a5"}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var out []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%b", "%o"} {
				out = append(out,
					fmt.Sprintf(verb, v),
					fmt.Sprintf(verb, struct{ Exported any }{v}),
					fmt.Sprintf(verb, holdUnexported(v)),
					fmt.Sprintf(verb, []any{v}))
			}
			out = append(out, fmt.Sprint(v), fmt.Sprintln(v), fmt.Sprint(holdUnexported(v)))
			if j, err := json.Marshal(map[string]any{"v": v}); err == nil {
				t.Fatalf("a secret was JSON-encoded as %s", j)
			} else {
				out = append(out, err.Error())
			}
			for _, s := range out {
				for _, l := range leaks {
					if strings.Contains(s, l) {
						t.Fatalf("printed %q, which holds secret bytes (%q)", s, l)
					}
				}
			}
		})
	}
}

// holdUnexported puts v in an unexported field, where fmt calls no method
// and walks the value itself.
func holdUnexported(v any) any {
	switch v := v.(type) {
	case ServerKey:
		return struct{ k ServerKey }{v}
	case Share:
		return struct{ s Share }{v}
	}
	return struct{ v any }{v}
}

func TestWipeReachesEveryCopy(t *testing.T) {
	key, err := NewServerKey()
	if err != nil {
		t.Fatal(err)
	}
	copied := key
	held := struct{ k ServerKey }{key}
	if bytes.Equal(key.Bytes(), make([]byte, KeySize)) {
		t.Fatal("a new key is all zeros")
	}
	key.Wipe()
	for _, b := range [][]byte{key.Bytes(), copied.Bytes(), held.k.Bytes()} {
		if !bytes.Equal(b, make([]byte, KeySize)) {
			t.Fatal("a copy of the key survived Wipe")
		}
	}
	if _, err := DeriveDataKey(ClientKey{secretFrom(make([]byte, KeySize))}, copied, UnitID{}, 1); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("a wiped server key was used: %v", err)
	}
	var zero ServerKey
	zero.Wipe() // must not panic
	if !zero.IsZero() || zero.Bytes() != nil {
		t.Fatal("the zero key holds bytes")
	}
}

func TestSecretsRefuseJSON(t *testing.T) {
	var v struct{ M MasterSecret }
	if err := json.Unmarshal([]byte(`{"M":{}}`), &v); err == nil {
		t.Fatal("a master secret was decoded from JSON")
	}
}

func TestMasterSecretFromBytes(t *testing.T) {
	b := bytes.Repeat([]byte{1}, KeySize)
	m, err := MasterSecretFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if m.Bytes()[0] != 1 {
		t.Fatal("the master secret shares memory with its input")
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := MasterSecretFromBytes(make([]byte, n)); err == nil {
			t.Errorf("a master secret of %d bytes was taken", n)
		}
	}
}

func TestUnitIDText(t *testing.T) {
	u, err := NewUnitID()
	if err != nil {
		t.Fatal(err)
	}
	var back UnitID
	if err := back.UnmarshalText([]byte(u.String())); err != nil || back != u {
		t.Fatalf("round trip of %s: %v", u, err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 32), strings.Repeat("0", 33), strings.Repeat("0", 31)} {
		if _, err := ParseUnitID(bad); err == nil {
			t.Errorf("ParseUnitID(%q) succeeded", bad)
		}
	}
	var c Commitment
	if err := c.UnmarshalText([]byte(strings.Repeat("ab", 32))); err != nil || c[0] != 0xab {
		t.Fatalf("commitment text: %v", err)
	}
	if err := c.UnmarshalText([]byte("abc")); err == nil {
		t.Error("a short commitment was taken")
	}
}
