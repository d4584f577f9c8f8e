package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/internal/atomicfile"
)

// The request journal is a text file beside the vault, appended to before
// every release request is sent; docs/vault.md ("The request journal")
// specifies it. It is apart from the vault because an append and a sync
// are cheap, and rewriting the vault before every request is not.

const (
	// requestsFormat is the first line of every request journal: the
	// format's name and version.
	requestsFormat     = requestsFormatName + "1"
	requestsFormatName = "custos-requests/"
	droppedKey         = "dropped-until"
	// journalTime is the one form of a time in the journal: UTC, to the
	// millisecond.
	journalTime = "2006-01-02T15:04:05.000Z"
	// maxRequestLine is the longest request line: the longest node name
	// (api.ValidNodeName), a time and a nonce in hex, and their separators.
	maxRequestLine = 32 + 1 + len(journalTime) + 1 + 2*api.RequestNonceSize + 1
	// maxJournalSize is the largest journal that is read: the header, a
	// dropped-until line and 2*MaxRequests requests. An append that would
	// reach 2*MaxRequests compacts the journal instead.
	maxJournalSize = len(requestsFormat) + 1 + len(droppedKey) + 1 + len(journalTime) + 1 + 2*MaxRequests*maxRequestLine
	// whyPrivate is why the journal must be the owner's alone.
	whyPrivate = "it tells an audit which releases are this vault's"
)

// journalPath returns where the request journal of the vault at path is.
func journalPath(path string) string { return path + ".requests" }

// journalError words one of this package's sentinel errors for the journal,
// and matches it with errors.Is.
type journalError struct {
	msg string
	is  error
}

func (e *journalError) Error() string { return e.msg }
func (e *journalError) Unwrap() error { return e.is }

var (
	errJournalCorrupt = &journalError{"the request journal is damaged", ErrCorrupt}
	errJournalFormat  = &journalError{"unknown request journal format", ErrUnknownFormat}
)

// AppendRequests appends rs to the vault's request journal and syncs it to
// disk before it returns: a request is sent only once it is recorded.
// It refuses a request that breaks a rule (ErrInvalid; nothing written), a
// closed handle (os.ErrClosed) and a damaged journal (ErrCorrupt, naming the
// file: it is never written to then). When the journal holds 2*MaxRequests
// requests it is compacted to the newest MaxRequests (atomically, as Save
// writes the vault) and the newest time of those dropped is kept in it.
//
// Times are kept in UTC, to the millisecond, as the requests signed them.
// The first append makes the journal, mode 0600; one that its group or
// others may read or write is refused (ErrPermissions), as is one of
// another format version (ErrUnknownFormat).
func (h *Handle) AppendRequests(rs ...Request) error {
	if err := h.writable(); err != nil {
		return fmt.Errorf("append requests: %w", err)
	}
	add := make([]Request, len(rs))
	for i, r := range rs {
		r.Time = r.Time.UTC().Truncate(time.Millisecond)
		if err := checkRequest(&r); err != nil {
			return fmt.Errorf("append requests: %w: request %d: %w", ErrInvalid, i, err)
		}
		add[i] = r
	}
	if len(add) == 0 {
		return nil
	}
	path := journalPath(h.path)
	h.jmu.Lock()
	defer h.jmu.Unlock()
	tail, err := appendJournal(path, add, h.journal)
	h.journal = tail
	if err != nil {
		return fmt.Errorf("append requests to %s: %w", path, err)
	}
	return nil
}

// journalTail is what an append needs to know of a journal that it wrote
// last: its length and how many requests it holds. The vault's lock keeps
// other custos processes from writing in between; a journal of another
// length than recorded is read again.
type journalTail struct {
	size  int64
	count int
}

// Requests returns copies of the requests in the journal, in the order they
// were appended, and droppedUntil: the newest time of any request the
// journal dropped (zero if none). A request no newer than droppedUntil may
// have been dropped, so an audit cannot tell from the journal whether the
// vault sent it. A missing journal is empty. A damaged one is ErrCorrupt.
// One of another format version is ErrUnknownFormat, and one that its
// group or others may read or write ErrPermissions.
func (h *Handle) Requests() (rs []Request, droppedUntil time.Time, err error) {
	if h.isClosed() {
		return nil, time.Time{}, fmt.Errorf("read requests: %w", os.ErrClosed)
	}
	path := journalPath(h.path)
	h.jmu.Lock()
	defer h.jmu.Unlock()
	f, info, err := openPrivate(path, os.O_RDONLY, whyPrivate)
	if errors.Is(err, ErrNotFound) {
		return nil, time.Time{}, nil
	} else if err != nil {
		return nil, time.Time{}, fmt.Errorf("read requests from %s: %w", path, err)
	}
	defer f.Close()
	j, err := readJournal(f, info.Size())
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read requests from %s: %w", path, err)
	}
	return j.reqs, j.droppedUntil, nil
}

// appendJournal records add, which the caller checked, in the journal at
// path, and returns what it then knows of the journal (nil if nothing).
// With last, what the previous append left, and a journal of that length,
// it appends without reading the journal again.
func appendJournal(path string, add []Request, last *journalTail) (*journalTail, error) {
	// One open for reading and appending, so that what is checked is what
	// is written to.
	f, info, err := openPrivate(path, os.O_RDWR|os.O_APPEND, whyPrivate)
	if errors.Is(err, ErrNotFound) {
		if len(add) >= 2*MaxRequests {
			return new(journal).compact(path, add)
		}
		return createJournal(path, &journal{reqs: add})
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	var b []byte
	tail := last
	if tail == nil || tail.size != info.Size() || tail.count+len(add) >= 2*MaxRequests {
		j, err := readJournal(f, info.Size())
		if err != nil {
			return nil, err
		}
		if len(j.reqs)+len(add) >= 2*MaxRequests {
			return j.compact(path, add)
		}
		if j.end == 0 {
			// The first append was cut short before its header was whole.
			b = append(b, requestsFormat+"\n"...)
		}
		if info.Size() > j.end {
			// What a crash cut short was never sent: drop it, so that the
			// new lines start on a line of their own.
			if err := f.Truncate(j.end); err != nil {
				return nil, err
			}
		}
		tail = &journalTail{size: j.end, count: len(j.reqs)}
	}
	for i := range add {
		b = appendRequestLine(b, &add[i])
	}
	if _, err := f.Write(b); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return &journalTail{size: tail.size + int64(len(b)), count: tail.count + len(add)}, nil
}

// createJournal makes the journal at path holding j; it refuses a file
// that exists, and leaves none when it fails.
func createJournal(path string, j *journal) (*journalTail, error) {
	b := j.encode()
	if err := atomicfile.CreateBytes(path, 0o600, b); err != nil {
		return nil, err
	}
	return &journalTail{size: int64(len(b)), count: len(j.reqs)}, nil
}

// compact rewrites the journal at path with the newest MaxRequests of its
// requests and add, and moves dropped-until up to the newest time of those
// it drops.
func (j *journal) compact(path string, add []Request) (*journalTail, error) {
	all := append(j.reqs, add...)
	cut := len(all) - MaxRequests
	for _, r := range all[:cut] {
		if r.Time.After(j.droppedUntil) {
			j.droppedUntil = r.Time
		}
	}
	j.reqs = all[cut:]
	b := j.encode()
	if err := writeAtomic(path, b); err != nil {
		return nil, err
	}
	return &journalTail{size: int64(len(b)), count: len(j.reqs)}, nil
}

// writeAtomic replaces the file at path with b, or leaves it as it was. The
// caller holds the vault, so the temporary file's name is fixed: one left
// by a crash is this process's to remove.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the leftover %s: %w", tmp, err)
	}
	return atomicfile.Write(path, tmp, b)
}

// journal is a request journal in memory.
type journal struct {
	reqs         []Request
	droppedUntil time.Time // zero if none dropped
	// end is the length of the journal's complete lines, header included:
	// bytes after it are an append that a crash cut short. It is 0 when
	// even the header is not whole.
	end int64
}

// readJournal reads and parses the size bytes of f.
func readJournal(f *os.File, size int64) (*journal, error) {
	if size > int64(maxJournalSize) {
		return nil, fmt.Errorf("%w: it is %d bytes; a journal holds at most %d", errJournalCorrupt, size, maxJournalSize)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return parseJournal(b)
}

// parseJournal parses a journal file, ignoring a last line without its
// newline. Errors match ErrCorrupt or ErrUnknownFormat, name the line and
// quote at most a short, clipped token of it.
func parseJournal(b []byte) (*journal, error) {
	if len(b) > maxJournalSize {
		return nil, fmt.Errorf("%w: it is %d bytes; a journal holds at most %d", errJournalCorrupt, len(b), maxJournalSize)
	}
	end := bytes.LastIndexByte(b, '\n') + 1
	j := &journal{end: int64(end)}
	if end == 0 {
		// No line is whole: the first append was cut short, if this is
		// the start of a header.
		if !bytes.HasPrefix([]byte(requestsFormat+"\n"), b) {
			return nil, headerError(string(b))
		}
		return j, nil
	}
	first, rest, _ := strings.Cut(string(b[:end]), "\n")
	if first != requestsFormat {
		return nil, headerError(first)
	}
	count := strings.Count(rest, "\n")
	j.reqs = make([]Request, 0, count)
	nonces := make([]byte, count*api.RequestNonceSize) // one allocation for all
	for n := 2; rest != ""; n++ {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		node, tail, ok := strings.Cut(line, " ")
		if ok && node == droppedKey && !strings.Contains(tail, " ") {
			if n != 2 {
				return nil, fmt.Errorf("%w: line %d: %s may only be line 2", errJournalCorrupt, n, droppedKey)
			}
			t, err := parseJournalTime(tail)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %s: %w", errJournalCorrupt, n, droppedKey, err)
			}
			j.droppedUntil = t
			continue
		}
		nonce := nonces[:api.RequestNonceSize:api.RequestNonceSize]
		nonces = nonces[api.RequestNonceSize:]
		r, err := parseRequestLine(line, nonce)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", errJournalCorrupt, n, err)
		}
		j.reqs = append(j.reqs, r)
	}
	return j, nil
}

// headerError says what is wrong with a first line that is not
// requestsFormat: another version of the format, or not the format at all.
func headerError(line string) error {
	if v, ok := strings.CutPrefix(line, requestsFormatName); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 1 && strconv.Itoa(n) == v {
			return fmt.Errorf("%w %q: a newer custos wrote it (this one reads %q)", errJournalFormat, line, requestsFormat)
		}
	}
	return fmt.Errorf("%w: line 1: the header is not %q", errJournalCorrupt, requestsFormat)
}

// parseRequestLine parses a request line, decoding its nonce into nonce.
func parseRequestLine(line string, nonce []byte) (Request, error) {
	node, rest, ok1 := strings.Cut(line, " ")
	ts, hexNonce, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || strings.Contains(hexNonce, " ") {
		return Request{}, errors.New("not a request: want a node name, a time and a nonce, each after a single space")
	}
	if err := api.CheckNodeName(node); err != nil {
		return Request{}, err
	}
	t, err := parseJournalTime(ts)
	if err != nil {
		return Request{}, err
	}
	if !isLowerHex(hexNonce) || len(hexNonce) != 2*len(nonce) {
		return Request{}, fmt.Errorf("the nonce is not %d lower-case hexadecimal digits", 2*api.RequestNonceSize)
	}
	hex.Decode(nonce, []byte(hexNonce)) // checked above
	r := Request{Node: node, Time: t, Nonce: nonce}
	if err := checkRequest(&r); err != nil {
		return Request{}, err
	}
	return r, nil
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

var errJournalTime = errors.New("the time is not in the form 2006-01-02T15:04:05.000Z")

// parseJournalTime reads a time written as journalTime writes it, and no
// other way: what time.Parse accepts must format back to s.
func parseJournalTime(s string) (time.Time, error) {
	t, err := time.Parse(journalTime, s)
	if err != nil || t.Format(journalTime) != s {
		return time.Time{}, errJournalTime
	}
	if err := checkTime(t); err != nil {
		return time.Time{}, fmt.Errorf("the time: %w", err)
	}
	return t, nil
}

// encode writes the journal in its one form.
func (j *journal) encode() []byte {
	b := make([]byte, 0, len(requestsFormat)+1+len(droppedKey)+len(journalTime)+2+len(j.reqs)*maxRequestLine)
	b = append(b, requestsFormat+"\n"...)
	if !j.droppedUntil.IsZero() {
		b = append(b, droppedKey+" "...)
		b = j.droppedUntil.UTC().AppendFormat(b, journalTime)
		b = append(b, '\n')
	}
	for i := range j.reqs {
		b = appendRequestLine(b, &j.reqs[i])
	}
	return b
}

// appendRequestLine appends r's line to b.
func appendRequestLine(b []byte, r *Request) []byte {
	b = append(b, r.Node...)
	b = append(b, ' ')
	b = r.Time.UTC().AppendFormat(b, journalTime)
	b = append(b, ' ')
	b = hex.AppendEncode(b, r.Nonce)
	return append(b, '\n')
}
