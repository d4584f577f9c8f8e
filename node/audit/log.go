package audit

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
)

const (
	// MaxEntrySize is the largest entry Append takes: api.MaxEntrySize.
	MaxEntrySize = api.MaxEntrySize

	// MaxSize caps every tree size and index, here and in api's proof
	// checks. It is far beyond any node's log, and keeps tlog's index
	// arithmetic clear of int64 overflow (tlog loops forever on sizes above
	// 2^62, so a size from a peer must be checked before it gets there).
	MaxSize = api.MaxLogSize

	// MaxEntries is the most entries one Entries call returns.
	MaxEntries = 1000

	// MaxEntriesBytes caps the total size of the entries one Entries call
	// returns (it always returns at least one), so a page fits in one
	// api.MaxMessageSize message with room to spare.
	MaxEntriesBytes = api.MaxMessageSize / 2
)

// checkpointCacheSize is how many signed checkpoints (by size) a Log keeps.
const checkpointCacheSize = 16

// Log is a node's audit log. It holds the signing key and a small cache of
// signed checkpoints; the log itself lives in the store, reached through
// the Tx of each call. A Log is safe for concurrent use.
type Log struct {
	origin string
	signer note.Signer

	hashes *hashCache

	mu     sync.Mutex
	signed map[int64]signedCheckpoint
}

type signedCheckpoint struct {
	root tlog.Hash
	note []byte
}

// New returns the log of the node whose checkpoint origin is origin
// (api.LogOrigin of its name), signing with the node's identity key.
func New(origin string, key ed25519.PrivateKey) (*Log, error) {
	s, err := api.NoteSigner(origin, key)
	if err != nil {
		return nil, fmt.Errorf("new log: %w", err)
	}
	return &Log{origin: origin, signer: s, hashes: newHashCache(), signed: make(map[int64]signedCheckpoint)}, nil
}

// reader reads the stored tree hashes through tx and the log's cache.
func (l *Log) reader(tx Tx) txHashReader { return txHashReader{tx: tx, cache: l.hashes} }

// Origin returns the log's checkpoint origin.
func (l *Log) Origin() string { return l.origin }

// Size returns the number of entries in the log.
func (l *Log) Size(tx Tx) (int64, error) { return logSize(tx) }

// Append adds entry (opaque bytes, 1 to MaxEntrySize of them) at index
// LogSize(), and stores the entry, every hash tlog.StoredHashes gives for it
// (reading earlier hashes through tx) and the new size. It runs inside the
// caller's store transaction, so the entry becomes durable with the caller's
// own writes. On error the caller must abort the transaction: some of the
// writes may have been made.
func (l *Log) Append(tx Tx, entry []byte) (index int64, err error) {
	if len(entry) == 0 || len(entry) > MaxEntrySize {
		return 0, fmt.Errorf("append log entry: %d bytes, want 1 to %d: %w", len(entry), MaxEntrySize, ErrInvalidArgument)
	}
	n, err := logSize(tx)
	if err != nil {
		return 0, fmt.Errorf("append log entry: %w", err)
	}
	if n >= MaxSize {
		return 0, fmt.Errorf("append log entry: the log is full (%d entries)", n)
	}
	// Badger keeps the value slice until the transaction commits, so a caller
	// reusing its buffer would change the stored entry after it was hashed.
	entry = bytes.Clone(entry)
	hashes, err := tlog.StoredHashes(n, entry, l.reader(tx))
	if err != nil {
		return 0, fmt.Errorf("append log entry %d: %w", n, err)
	}
	if err := tx.PutLogEntry(n, entry); err != nil {
		return 0, fmt.Errorf("append log entry %d: %w", n, err)
	}
	base := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		if err := tx.PutLogHash(base+int64(i), h); err != nil {
			return 0, fmt.Errorf("append log entry %d: write hash: %w", n, err)
		}
	}
	if err := tx.SetLogSize(n + 1); err != nil {
		return 0, fmt.Errorf("append log entry %d: write size: %w", n, err)
	}
	return n, nil
}

// TreeHash returns the root hash of the tree of the log's first size
// entries (0 <= size <= LogSize()).
func (l *Log) TreeHash(tx Tx, size int64) (tlog.Hash, error) {
	if _, err := checkSize(tx, size); err != nil {
		return tlog.Hash{}, fmt.Errorf("tree hash: %w", err)
	}
	h, err := tlog.TreeHash(size, l.reader(tx))
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("tree hash of size %d: %w", size, err)
	}
	return h, nil
}

// Checkpoint returns the signed checkpoint (api.SignCheckpoint) of the tree
// of the log's first size entries (0 <= size <= LogSize()). The root is
// recomputed on every call; the signature is reused while it matches.
func (l *Log) Checkpoint(tx Tx, size int64) (signed []byte, err error) {
	root, err := l.TreeHash(tx, size)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	l.mu.Lock()
	c, ok := l.signed[size]
	l.mu.Unlock()
	if ok && c.root == root {
		return bytes.Clone(c.note), nil
	}
	signed, err = api.SignCheckpoint(api.Checkpoint{Origin: l.origin, Size: size, Root: root}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	l.mu.Lock()
	l.signed[size] = signedCheckpoint{root: root, note: signed}
	if len(l.signed) > checkpointCacheSize {
		// Appends move the head forward, so the smallest size is the
		// least likely to be asked for again.
		smallest := size
		for s := range l.signed {
			smallest = min(smallest, s)
		}
		delete(l.signed, smallest)
	}
	l.mu.Unlock()
	return bytes.Clone(signed), nil
}

// InclusionProof returns the proof that the entry at index is in the tree of
// the log's first size entries (0 <= index < size <= LogSize()).
func (l *Log) InclusionProof(tx Tx, index, size int64) (tlog.RecordProof, error) {
	if index < 0 {
		return nil, fmt.Errorf("inclusion proof: negative index %d: %w", index, ErrInvalidArgument)
	}
	if _, err := checkSize(tx, size); err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	if index >= size {
		return nil, fmt.Errorf("inclusion proof: index %d is not in the tree of size %d: %w", index, size, ErrNotFound)
	}
	p, err := tlog.ProveRecord(size, index, l.reader(tx))
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of %d in %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the proof that the tree of the log's first
// newSize entries extends the tree of its first oldSize entries
// (0 <= oldSize <= newSize <= LogSize()). From the empty tree it is empty.
func (l *Log) ConsistencyProof(tx Tx, oldSize, newSize int64) (tlog.TreeProof, error) {
	if oldSize < 0 || oldSize > newSize {
		return nil, fmt.Errorf("consistency proof: sizes %d to %d: %w", oldSize, newSize, ErrInvalidArgument)
	}
	if _, err := checkSize(tx, newSize); err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	if oldSize == 0 {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, l.reader(tx))
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d to %d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// Entries returns the entries with indexes in [start, end)
// (0 <= start <= end <= LogSize()), or the first of them: at most MaxEntries
// and MaxEntriesBytes (but at least one, if start < end). A caller wanting
// the rest asks again from start+len(result).
func (l *Log) Entries(tx Tx, start, end int64) ([][]byte, error) {
	if start < 0 || start > end {
		return nil, fmt.Errorf("log entries: range [%d, %d): %w", start, end, ErrInvalidArgument)
	}
	if _, err := checkSize(tx, end); err != nil {
		return nil, fmt.Errorf("log entries: %w", err)
	}
	end = min(end, start+MaxEntries)
	out := make([][]byte, 0, end-start)
	total := 0
	for i := start; i < end; i++ {
		e, err := tx.LogEntry(i)
		if err != nil {
			return nil, fmt.Errorf("read log entry %d: %w", i, err)
		}
		if total += len(e); total > MaxEntriesBytes && len(out) > 0 {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// Replay recomputes the tree from every stored entry, checks each stored
// hash against the recomputation, and returns the log's size and root. The
// first disagreement is a *CorruptError naming its entry index: an entry
// changed, missing, moved or of an impossible size, a tree hash changed or
// missing, or an entry or hash stored beyond the size (a rolled-back size).
// It reads every entry once and keeps O(log size) hashes in memory.
func (l *Log) Replay(tx Tx) (size int64, root tlog.Hash, err error) {
	n, err := logSize(tx)
	if err != nil {
		return 0, tlog.Hash{}, fmt.Errorf("replay log: %w", err)
	}
	// The Merkle math is api.TreeHasher's rather than tlog.StoredHashes,
	// so Replay checks what Append stored (with tlog) with a second
	// computation: entry i completes the hashes TreeHasher.Add returns, and
	// Append stored them right after its leaf hash.
	var th api.TreeHasher
	for i := range n {
		entry, err := tx.LogEntry(i)
		if err != nil {
			return 0, tlog.Hash{}, &CorruptError{Index: i, Reason: "the entry cannot be read", Err: err}
		}
		if len(entry) == 0 || len(entry) > MaxEntrySize {
			return 0, tlog.Hash{}, &CorruptError{Index: i, Reason: fmt.Sprintf("the entry is %d bytes", len(entry))}
		}
		base := tlog.StoredHashIndex(0, i)
		for level, h := range th.Add(entry) {
			stored, err := tx.LogHash(base + int64(level))
			if err != nil {
				return 0, tlog.Hash{}, &CorruptError{Index: i, Reason: fmt.Sprintf("its level-%d tree hash cannot be read", level), Err: err}
			}
			if stored != h {
				return 0, tlog.Hash{}, &CorruptError{Index: i, Reason: fmt.Sprintf("its level-%d tree hash does not match the entries", level)}
			}
		}
	}
	if _, err := tx.LogEntry(n); err == nil {
		return 0, tlog.Hash{}, &CorruptError{Index: n, Reason: "an entry is stored beyond the log size (rolled back?)"}
	}
	if _, err := tx.LogHash(tlog.StoredHashCount(n)); err == nil {
		return 0, tlog.Hash{}, &CorruptError{Index: n, Reason: "a tree hash is stored beyond the log size (rolled back?)"}
	}
	return n, th.Root(), nil
}

// logSize reads the log size and checks it is one this package could have
// written.
func logSize(tx Tx) (int64, error) {
	n, err := tx.LogSize()
	if err != nil {
		return 0, fmt.Errorf("read log size: %w", err)
	}
	if n < 0 || n > MaxSize {
		return 0, &CorruptError{Index: n, Reason: "the stored log size is out of range"}
	}
	return n, nil
}

// checkSize checks 0 <= size <= LogSize() and returns LogSize().
func checkSize(tx Tx, size int64) (int64, error) {
	if size < 0 {
		return 0, fmt.Errorf("negative tree size %d: %w", size, ErrInvalidArgument)
	}
	n, err := logSize(tx)
	if err != nil {
		return 0, err
	}
	if size > n {
		return 0, fmt.Errorf("tree size %d, but the log has %d entries: %w", size, n, ErrNotFound)
	}
	return n, nil
}
