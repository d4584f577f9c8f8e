package toprf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// patternScalar is a valid scalar whose encoding is 0xa5 bytes (then 0x05,
// to stay below the group order), easy to find in printed text.
func patternScalar(t *testing.T) []byte {
	return append(bytes.Repeat([]byte{0xa5}, ScalarSize-1), 0x05)
}

func TestSecretsNeverPrint(t *testing.T) {
	b := patternScalar(t)
	share, err := KeyShareFromBytes(7, b)
	if err != nil {
		t.Fatal(err)
	}
	key := Key{s: hide(scalar(share.s).Copy())}
	req, err := blind([]byte("password hash"), scalar(share.s).Copy())
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"Key":      key,
		"KeyShare": share,
		"Output":   newOutput(bytes.Repeat([]byte{0xa5}, OutputSize)),
		"Request":  req,
		"*Request": *req,
	}
	leaks := []string{"a5a5a5a5a5a5", "A5A5A5A5A5A5", "165 165", "10100101 10100101", "245 245", "paWlpaWl", `\xa5`, "\xa5\xa5", "\u00a5", "password hash",
		"2779096485", // 0xa5a5a5a5, a limb of circl's scalar
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var out []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%b", "%o"} {
				out = append(out,
					fmt.Sprintf(verb, v),
					fmt.Sprintf(verb, struct{ Exported any }{v}),
					fmt.Sprintf(verb, struct{ unexported any }{v}),
					fmt.Sprintf(verb, []any{v}))
			}
			if j, err := json.Marshal(map[string]any{"v": v}); err == nil {
				t.Fatalf("a secret was JSON-encoded as %s", j)
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
	var v struct{ K KeyShare }
	if err := json.Unmarshal([]byte(`{"K":{"Index":1}}`), &v); err == nil {
		t.Fatal("a key share was decoded from JSON")
	}
}

func TestWipeReachesEveryCopyAndStopsUse(t *testing.T) {
	d := deal(t, 2, 3)
	blinded := d.req.Blinded()
	e1, e2 := d.evaluation(t, 1), d.evaluation(t, 2)

	keyCopy, shareCopy, reqCopy := d.key, d.keys[0], *d.req
	d.key.Wipe()
	d.keys[0].Wipe()
	d.req.Wipe()

	if _, err := keyCopy.Output(d.input); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Output with a wiped key = %v; want ErrNoSecret", err)
	}
	if _, _, err := keyCopy.Split(2, 3); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Split of a wiped key = %v; want ErrNoSecret", err)
	}
	if _, _, err := shareCopy.Evaluate(blinded[:]); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Evaluate with a wiped share = %v; want ErrNoSecret", err)
	}
	if shareCopy.Bytes() != nil || shareCopy.Public() != (PublicShare{}) {
		t.Error("a wiped share still gives its bytes or public part")
	}
	if _, err := reqCopy.Finalize(2, []Evaluation{e1, e2}); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Finalize of a wiped request = %v; want ErrNoSecret", err)
	}
	if !bytes.Equal(reqCopy.state().input, make([]byte, len(d.input))) {
		t.Error("the request's copy of the input survived Wipe")
	}

	out := newOutput(bytes.Repeat([]byte{1}, OutputSize))
	outCopy := out
	out.Wipe()
	if outCopy.Bytes() != nil || outCopy.Equal(outCopy) || !bytes.Equal(outCopy.h.ptr().b[:], make([]byte, OutputSize)) {
		t.Error("a copy of the output survived Wipe")
	}

	var zk Key
	var zs KeyShare
	var zo Output
	var zr Request
	zk.Wipe()
	zs.Wipe()
	zo.Wipe()
	zr.Wipe() // none may panic
	if _, err := zr.Verify(d.pubs[0], d.z[0][:], d.proof[0][:]); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Verify on the zero Request = %v; want ErrNoSecret", err)
	}
	if _, err := zr.Finalize(2, []Evaluation{e1, e2}); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Finalize of the zero Request = %v; want ErrNoSecret", err)
	}
	if _, err := zk.Output(d.input); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Output of the zero Key = %v; want ErrNoSecret", err)
	}
	if _, _, err := zs.Evaluate(blinded[:]); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Evaluate of the zero KeyShare = %v; want ErrNoSecret", err)
	}
}
