package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/multiformats/go-varint"
	"google.golang.org/protobuf/proto"
)

// ErrFrameTooLarge is the error of reading a message whose length prefix is
// over the cap; nothing is allocated for it.
var ErrFrameTooLarge = errors.New("message over the size limit")

// Framing is written here rather than taken from go-msgio/pbio, whose reader
// prints a stack trace to stderr on a panic and reports an oversized message
// as io.ErrShortBuffer.

// Reader reads length-prefixed messages from one stream. It buffers, so a
// stream must be read through one Reader only.
type Reader struct {
	r   *bufio.Reader
	max int
}

// NewReader reads messages of at most max bytes from r.
func NewReader(r io.Reader, max int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 4096), max: max}
}

// Max is the most bytes a message may have.
func (r *Reader) Max() int { return r.max }

// Read reads the next message into m.
func (r *Reader) Read(m proto.Message) error {
	n, err := varint.ReadUvarint(r.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read message length: %w", err)
	}
	if n > uint64(r.max) {
		return ErrFrameTooLarge
	}
	buf, err := readBody(r.r, int(n))
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	if err := proto.Unmarshal(buf, m); err != nil {
		return fmt.Errorf("decode message: %w", err)
	}
	return nil
}

// firstChunk is what readBody allocates before any byte of a body arrives.
const firstChunk = 4096

// readBody reads a body of n bytes into a buffer that grows as the bytes
// arrive, doubling from firstChunk and never past n. A peer that claims a
// large message and stalls so holds about twice what it sent, not what it
// claimed: the claim is bounded by the cap, but many streams times the cap
// is more memory than a node has. The doubling keeps the copying to about
// n bytes in all. A body that ends early is io.ErrUnexpectedEOF.
func readBody(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, firstChunk))
	for len(buf) < n {
		have := len(buf)
		want := min(n, max(2*have, firstChunk))
		buf = slices.Grow(buf, want-have)[:want]
		if _, err := io.ReadFull(r, buf[have:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// Write writes m with its length prefix in one write.
func Write(w io.Writer, m proto.Message) error {
	body, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	if len(body) > MaxMessageSize {
		return ErrFrameTooLarge
	}
	frame := varint.ToUvarint(uint64(len(body)))
	if _, err := w.Write(append(frame, body...)); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}
