package api

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/multiformats/go-varint"
	"google.golang.org/protobuf/proto"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	msgs := []*LoginHello{{User: "alice"}, {User: "bob"}, {}}
	for _, m := range msgs {
		if err := Write(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf, MaxMessageSize)
	for _, want := range msgs {
		var got LoginHello
		if err := r.Read(&got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&got, want) {
			t.Fatalf("read %v; want %v", &got, want)
		}
	}
	if err := r.Read(&LoginHello{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read past the end: %v", err)
	}
}

// prefixOnly yields a length prefix and then blocks the test if anything
// reads further, so it shows the cap is checked before reading the body.
type prefixOnly struct{ r io.Reader }

func (p *prefixOnly) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err == io.EOF {
		panic("read past the length prefix")
	}
	return n, err
}

func TestFrameRules(t *testing.T) {
	big := varint.ToUvarint(1 << 40)
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"a length over the cap is refused before the body is read", big, MaxMessageSize, ErrFrameTooLarge},
		{"a length one over a small cap is refused", varint.ToUvarint(11), 10, ErrFrameTooLarge},
		{"an empty stream is an unexpected end", nil, 10, io.ErrUnexpectedEOF},
		{"a truncated body is an error", append(varint.ToUvarint(5), 1, 2), 10, io.ErrUnexpectedEOF},
		{"a non-minimal length prefix is refused", []byte{0x85, 0x00}, 10, varint.ErrNotMinimal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := io.Reader(bytes.NewReader(tc.in))
			if tc.want == ErrFrameTooLarge {
				src = &prefixOnly{bytes.NewReader(tc.in)}
			}
			err := NewReader(src, tc.max).Read(&LoginHello{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read = %v; want %v", err, tc.want)
			}
		})
	}
	t.Run("garbage in the body is a decode error", func(t *testing.T) {
		in := append(varint.ToUvarint(3), 0xff, 0xff, 0xff)
		if err := NewReader(bytes.NewReader(in), 10).Read(&LoginHello{}); err == nil {
			t.Fatal("garbage decoded")
		}
	})
	t.Run("a message over the cap is not written", func(t *testing.T) {
		err := Write(io.Discard, &PutRequest{Share: make([]byte, MaxMessageSize)})
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("Write = %v", err)
		}
	})
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, &ReleaseRequest{Units: []*UnitRef{{UnitId: make([]byte, 16), Version: 1}}, TimeUnixMs: 1})
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		var m ReleaseRequest
		if err := NewReader(bytes.NewReader(in), 4096).Read(&m); err != nil {
			return
		}
		_ = m.Validate(MaxBatch) // must not panic on anything that decodes
	})
}
