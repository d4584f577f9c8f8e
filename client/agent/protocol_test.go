package agent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestRequestValidation(t *testing.T) {
	many := make([]string, MaxLabels+1)
	for i := range many {
		many[i] = "label"
	}
	for _, tc := range []struct {
		name string
		req  request
		ok   bool
	}{
		{"a get of one label is valid", request{V: Version, Op: OpGet, Labels: []string{"acme"}}, true},
		{"another protocol version is refused", request{V: 2, Op: OpGet, Labels: []string{"acme"}}, false},
		{"an unknown operation is refused", request{V: Version, Op: "exec"}, false},
		{"a get of no label is refused", request{V: Version, Op: OpGet}, false},
		{"a get of more than MaxLabels labels is refused", request{V: Version, Op: OpGet, Labels: many}, false},
		{"a label with a newline is refused", request{V: Version, Op: OpGet, Labels: []string{"a\nb"}}, false},
		{"a put without a label is refused", request{V: Version, Op: OpPut, Secret: []byte("x")}, false},
		{"a secret longer than MaxSecret is refused", request{V: Version, Op: OpPut, Label: "a", Secret: make([]byte, MaxSecret+1)}, false},
		{"a negative min_acks is refused", request{V: Version, Op: OpPut, Label: "a", MinAcks: -1}, false},
		{"an unlock without a password is refused", request{V: Version, Op: OpUnlock}, false},
		{"a history of every record is valid", request{V: Version, Op: OpHistory}, true},
		{"a prefix longer than a label is refused", request{V: Version, Op: OpList, Prefix: strings.Repeat("a", 200)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errMalformed)) {
				t.Fatalf("validate: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestFrameLongerThanTheCapIsRefusedBeforeItIsRead(t *testing.T) {
	var head [4]byte
	binary.BigEndian.PutUint32(head[:], MaxRequest+1)
	var req request
	// Only the header is there: a reader that allocated the length first
	// would wait for the body instead.
	err := readFrame(bytes.NewReader(head[:]), MaxRequest, &req)
	if !errors.Is(err, errMalformed) {
		t.Fatalf("readFrame: %v, want errMalformed", err)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := request{V: Version, Op: OpPut, Label: "acme", Username: "svc", Secret: []byte("s3cret\x00\n")}
	if err := writeFrame(&buf, &in); err != nil {
		t.Fatal(err)
	}
	var out request
	if err := readFrame(&buf, MaxRequest, &out); err != nil {
		t.Fatal(err)
	}
	if out.Label != in.Label || out.Username != in.Username || !bytes.Equal(out.Secret, in.Secret) {
		t.Fatalf("read %+v, want %+v", out, in)
	}
}

func FuzzReadRequest(f *testing.F) {
	var buf bytes.Buffer
	_ = writeFrame(&buf, &request{V: Version, Op: OpGet, Labels: []string{"acme"}})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req request
		if err := readFrame(bytes.NewReader(b), MaxRequest, &req); err != nil {
			return
		}
		_ = req.validate()
	})
}
