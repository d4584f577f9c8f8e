package api

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

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
		{"a length with no body after it is an unexpected end", varint.ToUvarint(5), 10, io.ErrUnexpectedEOF},
		{"a body that ends after its first chunk is an unexpected end", append(varint.ToUvarint(3*firstChunk), make([]byte, firstChunk+1)...), 1 << 20, io.ErrUnexpectedEOF},
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

// A message larger than the first chunk arrives whole, whether the stream
// hands it over at once or a few bytes at a time.
func TestFrameLargeMessage(t *testing.T) {
	want := &LoginHello{User: strings.Repeat("u", 5*firstChunk+7)}
	var buf bytes.Buffer
	if err := Write(&buf, want); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]io.Reader{
		"at once":       bytes.NewReader(buf.Bytes()),
		"a byte a time": iotest.OneByteReader(bytes.NewReader(buf.Bytes())),
	} {
		var got LoginHello
		if err := NewReader(src, MaxMessageSize).Read(&got); err != nil || got.User != want.User {
			t.Errorf("%s: read %d bytes of user, %v; want %d", name, len(got.User), err, len(want.User))
		}
	}
}

// stalled yields its bytes and then fails, as a stream whose peer sent a
// length prefix and part of a body, then stopped until the deadline.
type stalled struct{ r io.Reader }

func (s *stalled) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err == io.EOF {
		return n, os.ErrDeadlineExceeded
	}
	return n, err
}

// A peer that claims the largest message and sends a few bytes makes the
// reader allocate about what it sent, not what it claimed.
func TestReadHoldsOnlyWhatArrived(t *testing.T) {
	const claimed = 64 << 20
	in := append(varint.ToUvarint(claimed), make([]byte, 100)...)
	r := NewReader(&stalled{bytes.NewReader(in)}, claimed)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := r.Read(&LoginHello{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v; want the stream's deadline error", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("reading a 64 MiB claim with 100 bytes sent allocated %d KiB; want at most 1 MiB", got>>10)
	}
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
