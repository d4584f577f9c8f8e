package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-network/custos/api"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testOrigin = "custos/node-a"

func testKey(label string) (ed25519.PrivateKey, ed25519.PublicKey) {
	seed := sha256.Sum256([]byte("custos audit test key " + label))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return priv, priv.Public().(ed25519.PublicKey)
}

func newTestLog(t testing.TB) (*Log, ed25519.PublicKey) {
	t.Helper()
	priv, pub := testKey("node-a")
	l, err := New(testOrigin, priv)
	if err != nil {
		t.Fatal(err)
	}
	return l, pub
}

// testEntry is entry i of the test logs: distinct, and of varying length.
func testEntry(i int64) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("entry %d;", i)), int(i%5)+1)
}

// appendN appends entries 0..n-1 to a new memTx.
func appendN(t testing.TB, l *Log, n int64) *memTx {
	t.Helper()
	tx := newMemTx()
	for i := range n {
		got, err := l.Append(tx, testEntry(i))
		if err != nil || got != i {
			t.Fatalf("Append #%d = %d, %v", i, got, err)
		}
	}
	return tx
}

// refLeaf and refRoot write RFC 6962's Merkle Tree Hash out by hand
// (section 2.1), sharing no code with tlog: MTH({}) = SHA-256(),
// MTH({d}) = SHA-256(0x00 ‖ d), MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖
// MTH(D[k:n])) for the largest power of two k < n.
func refLeaf(entry []byte) [32]byte { return sha256.Sum256(append([]byte{0}, entry...)) }

func refRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// tlogMemHashes is tlog's own bookkeeping over record hashes alone, kept
// apart from the Log and its Tx: a second, independent computation.
type tlogMemHashes []tlog.Hash

func (s tlogMemHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		out[i] = s[idx]
	}
	return out, nil
}

func TestTreeHashMatchesRFC6962(t *testing.T) {
	const n = 300
	l, _ := newTestLog(t)
	tx := newMemTx()
	var leaves [][32]byte
	var tl tlogMemHashes
	check := func(size int64) {
		t.Helper()
		got, err := l.TreeHash(tx, size)
		if err != nil {
			t.Fatal(err)
		}
		if want := tlog.Hash(refRoot(leaves[:size])); got != want {
			t.Fatalf("size %d: TreeHash = %v, RFC 6962 MTH = %v", size, got, want)
		}
		if want, err := tlog.TreeHash(size, tl); err != nil || got != want {
			t.Fatalf("size %d: TreeHash = %v, tlog over record hashes = %v (%v)", size, got, want, err)
		}
	}
	check(0)
	for i := range int64(n) {
		if _, err := l.Append(tx, testEntry(i)); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, refLeaf(testEntry(i)))
		hs, err := tlog.StoredHashesForRecordHash(i, tlog.RecordHash(testEntry(i)), tl)
		if err != nil {
			t.Fatal(err)
		}
		tl = append(tl, hs...)
		check(i + 1)
	}
	// Earlier trees are unchanged by later appends.
	for size := range int64(n + 1) {
		check(size)
	}
	if int64(len(tx.hashes)) != tlog.StoredHashCount(n) {
		t.Errorf("%d hashes stored, tlog wants %d", len(tx.hashes), tlog.StoredHashCount(n))
	}
}

func TestInclusionProofs(t *testing.T) {
	const n = 70
	l, _ := newTestLog(t)
	tx := appendN(t, l, n)
	for size := int64(1); size <= n; size++ {
		root, err := l.TreeHash(tx, size)
		if err != nil {
			t.Fatal(err)
		}
		for index := range size {
			p, err := l.InclusionProof(tx, index, size)
			if err != nil {
				t.Fatal(err)
			}
			entry := testEntry(index)
			if err := api.VerifyInclusion(p, size, root, index, entry); err != nil {
				t.Fatalf("entry %d in %d: %v", index, size, err)
			}
			bad := map[string]error{
				"wrong entry":     api.VerifyInclusion(p, size, root, index, append(bytes.Clone(entry), 'x')),
				"wrong root":      api.VerifyInclusion(p, size, tlog.Hash(sha256.Sum256(root[:])), index, entry),
				"proof truncated": api.VerifyInclusion(p[:max(len(p)-1, 0)], size, root, index, entry),
				"proof extended":  api.VerifyInclusion(append(p[:len(p):len(p)], root), size, root, index, entry),
			}
			if size > 1 {
				bad["wrong index"] = api.VerifyInclusion(p, size, root, (index+1)%size, entry)
				q := append(tlog.RecordProof{}, p...)
				q[int(index)%len(q)][0] ^= 1
				bad["proof hash altered"] = api.VerifyInclusion(q, size, root, index, entry)
			}
			for what, err := range bad {
				if what == "proof truncated" && len(p) == 0 {
					continue
				}
				if !errors.Is(err, api.ErrInvalidProof) && !errors.Is(err, api.ErrLogRange) {
					t.Fatalf("entry %d in %d, %s: VerifyInclusion = %v", index, size, what, err)
				}
			}
		}
	}
}

func TestConsistencyProofs(t *testing.T) {
	const n = 40
	l, _ := newTestLog(t)
	tx := appendN(t, l, n)
	roots := make([]tlog.Hash, n+1)
	for size := range int64(n + 1) {
		var err error
		if roots[size], err = l.TreeHash(tx, size); err != nil {
			t.Fatal(err)
		}
	}
	flip := func(h tlog.Hash) tlog.Hash { h[31] ^= 0x80; return h }
	for oldSize := range int64(n + 1) {
		for newSize := oldSize; newSize <= n; newSize++ {
			p, err := l.ConsistencyProof(tx, oldSize, newSize)
			if err != nil {
				t.Fatal(err)
			}
			if err := api.VerifyConsistency(p, oldSize, roots[oldSize], newSize, roots[newSize]); err != nil {
				t.Fatalf("%d to %d: %v", oldSize, newSize, err)
			}
			bad := map[string]error{
				"old root altered": api.VerifyConsistency(p, oldSize, flip(roots[oldSize]), newSize, roots[newSize]),
				"new root altered": api.VerifyConsistency(p, oldSize, roots[oldSize], newSize, flip(roots[newSize])),
			}
			if oldSize == 0 && newSize > 0 {
				// Every tree extends the empty tree, whatever its root.
				delete(bad, "new root altered")
			}
			if len(p) > 0 {
				q := append(tlog.TreeProof{}, p...)
				q[len(q)-1][0] ^= 1
				bad["proof hash altered"] = api.VerifyConsistency(q, oldSize, roots[oldSize], newSize, roots[newSize])
				bad["proof truncated"] = api.VerifyConsistency(p[:len(p)-1], oldSize, roots[oldSize], newSize, roots[newSize])
			}
			bad["proof extended"] = api.VerifyConsistency(append(p[:len(p):len(p)], roots[0]), oldSize, roots[oldSize], newSize, roots[newSize])
			if oldSize > 0 && oldSize < newSize {
				bad["other old size"] = api.VerifyConsistency(p, oldSize-1, roots[oldSize-1], newSize, roots[newSize])
			}
			for what, err := range bad {
				if !errors.Is(err, api.ErrInvalidProof) {
					t.Fatalf("%d to %d, %s: VerifyConsistency = %v", oldSize, newSize, what, err)
				}
			}
		}
	}
}

func TestArgumentsAreChecked(t *testing.T) {
	l, _ := newTestLog(t)
	tx := appendN(t, l, 10)
	root, _ := l.TreeHash(tx, 10)
	call := map[string]func(a, b int64) error{
		"TreeHash":         func(a, _ int64) error { _, err := l.TreeHash(tx, a); return err },
		"Checkpoint":       func(a, _ int64) error { _, err := l.Checkpoint(tx, a); return err },
		"InclusionProof":   func(a, b int64) error { _, err := l.InclusionProof(tx, a, b); return err },
		"ConsistencyProof": func(a, b int64) error { _, err := l.ConsistencyProof(tx, a, b); return err },
		"Entries":          func(a, b int64) error { _, err := l.Entries(tx, a, b); return err },
		"VerifyInclusion":  func(a, b int64) error { return api.VerifyInclusion(nil, b, root, a, testEntry(a)) },
		"VerifyConsistency": func(a, b int64) error {
			return api.VerifyConsistency(nil, a, root, b, root)
		},
	}
	const big = 1<<62 + 1 // tlog's index math loops forever from here on
	for _, tc := range []struct {
		name string
		fn   string
		a, b int64
		want error
	}{
		{"negative tree size is invalid", "TreeHash", -1, 0, ErrInvalidArgument},
		{"tree size beyond the log is not found", "TreeHash", 11, 0, ErrNotFound},
		{"huge tree size is not found", "TreeHash", big, 0, ErrNotFound},
		{"negative checkpoint size is invalid", "Checkpoint", -1, 0, ErrInvalidArgument},
		{"checkpoint beyond the log is not found", "Checkpoint", 11, 0, ErrNotFound},
		{"negative index is invalid", "InclusionProof", -1, 5, ErrInvalidArgument},
		{"negative proof tree size is invalid", "InclusionProof", 0, -5, ErrInvalidArgument},
		{"index equal to the tree size is not found", "InclusionProof", 5, 5, ErrNotFound},
		{"index in the empty tree is not found", "InclusionProof", 0, 0, ErrNotFound},
		{"proof tree beyond the log is not found", "InclusionProof", 3, 11, ErrNotFound},
		{"huge index is not found", "InclusionProof", big, 10, ErrNotFound},
		{"negative old size is invalid", "ConsistencyProof", -1, 5, ErrInvalidArgument},
		{"old size above new size is invalid", "ConsistencyProof", 6, 5, ErrInvalidArgument},
		{"new size beyond the log is not found", "ConsistencyProof", 5, 11, ErrNotFound},
		{"huge new size is not found", "ConsistencyProof", 5, big, ErrNotFound},
		{"negative start is invalid", "Entries", -1, 5, ErrInvalidArgument},
		{"start after end is invalid", "Entries", 6, 5, ErrInvalidArgument},
		{"end beyond the log is not found", "Entries", 5, 11, ErrNotFound},
		{"verified index equal to size is invalid", "VerifyInclusion", 10, 10, api.ErrLogRange},
		{"verified negative index is invalid", "VerifyInclusion", -1, 10, api.ErrLogRange},
		{"verified empty tree is invalid", "VerifyInclusion", 0, 0, api.ErrLogRange},
		{"verified size above MaxSize is invalid", "VerifyInclusion", 0, big, api.ErrLogRange},
		{"verified negative old size is invalid", "VerifyConsistency", -1, 10, api.ErrLogRange},
		{"verified old size above new size is invalid", "VerifyConsistency", 11, 10, api.ErrLogRange},
		{"verified new size above MaxSize is invalid", "VerifyConsistency", 10, big, api.ErrLogRange},
		{"verified new size at MaxSize is checked, not refused", "VerifyConsistency", 10, MaxSize, api.ErrInvalidProof},
		{"verified size at MaxSize is checked, not refused", "VerifyInclusion", MaxSize - 1, MaxSize, api.ErrInvalidProof},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := call[tc.fn](tc.a, tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("%s(%d, %d) = %v, want %v", tc.fn, tc.a, tc.b, err, tc.want)
			}
		})
	}
}

func TestAppendRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry []byte
		want  error
	}{
		{"empty entry is refused", []byte{}, ErrInvalidArgument},
		{"nil entry is refused", nil, ErrInvalidArgument},
		{"entry over MaxEntrySize is refused", make([]byte, MaxEntrySize+1), ErrInvalidArgument},
		{"entry of MaxEntrySize is taken", make([]byte, MaxEntrySize), nil},
		{"one-byte entry is taken", []byte{0}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newTestLog(t)
			tx := appendN(t, l, 3)
			i, err := l.Append(tx, tc.entry)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append = %d, %v; want %v", i, err, tc.want)
			}
			wantSize := int64(3)
			if tc.want == nil {
				wantSize = 4
			}
			if tx.size != wantSize {
				t.Fatalf("size %d after Append, want %d", tx.size, wantSize)
			}
		})
	}

	t.Run("caller reusing its buffer does not change the stored entry", func(t *testing.T) {
		l, _ := newTestLog(t)
		tx := newMemTx()
		buf := []byte("first")
		if _, err := l.Append(tx, buf); err != nil {
			t.Fatal(err)
		}
		copy(buf, "XXXXX")
		if _, _, err := l.Replay(tx); err != nil {
			t.Fatal(err)
		}
	})

	for _, op := range []string{"LogSize", "LogHash", "PutLogEntry", "PutLogHash", "SetLogSize"} {
		t.Run("storage failure in "+op+" is returned", func(t *testing.T) {
			l, _ := newTestLog(t)
			tx := appendN(t, l, 7) // the 8th append reads three earlier hashes
			tx.failOn = op
			if _, err := l.Append(tx, []byte("x")); !errors.Is(err, errMemInjected) {
				t.Fatalf("Append = %v", err)
			}
		})
	}
}

func TestEntries(t *testing.T) {
	l, _ := newTestLog(t)
	tx := appendN(t, l, 1100)
	for _, tc := range []struct {
		name       string
		start, end int64
		want       int64 // entries returned
	}{
		{"empty range gives no entries", 7, 7, 0},
		{"a range gives its entries", 3, 9, 6},
		{"the whole of a small log comes in one call", 0, 1000, 1000},
		{"a long range is cut at MaxEntries", 50, 1100, MaxEntries},
		{"the tail of the log", 1099, 1100, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Entries(tx, tc.start, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(got)) != tc.want {
				t.Fatalf("%d entries, want %d", len(got), tc.want)
			}
			for i, e := range got {
				if !bytes.Equal(e, testEntry(tc.start+int64(i))) {
					t.Fatalf("entry %d = %q", tc.start+int64(i), e)
				}
			}
		})
	}

	t.Run("a range of large entries is cut at MaxEntriesBytes", func(t *testing.T) {
		l, _ := newTestLog(t)
		tx := newMemTx()
		for i := range 20 {
			if _, err := l.Append(tx, bytes.Repeat([]byte{byte(i)}, MaxEntrySize)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := l.Entries(tx, 2, 20)
		if err != nil {
			t.Fatal(err)
		}
		if want := MaxEntriesBytes / MaxEntrySize; len(got) != want {
			t.Fatalf("%d entries, want %d", len(got), want)
		}
		if got[0][0] != 2 {
			t.Fatal("the page does not start at start")
		}
	})

	t.Run("a missing entry is an error", func(t *testing.T) {
		c := tx.clone()
		delete(c.entries, 5)
		if _, err := l.Entries(c, 0, 10); !errors.Is(err, errMemNotFound) {
			t.Fatalf("Entries = %v", err)
		}
	})
}

func TestReplayFindsTampering(t *testing.T) {
	const n = 37
	l, _ := newTestLog(t)
	clean := appendN(t, l, n)
	wantRoot, _ := l.TreeHash(clean, n)

	size, root, err := l.Replay(clean)
	if err != nil || size != n || root != wantRoot {
		t.Fatalf("Replay of an untouched log = %d, %v, %v; want %d, %v", size, root, err, n, wantRoot)
	}
	if size, root, err := l.Replay(newMemTx()); err != nil || size != 0 || root != tlog.Hash(sha256.Sum256(nil)) {
		t.Fatalf("Replay of an empty log = %d, %v, %v", size, root, err)
	}

	for _, tc := range []struct {
		name   string
		tamper func(tx *memTx)
		index  int64
	}{
		{"changed entry is named", func(tx *memTx) { tx.entries[13] = []byte("forged") }, 13},
		{"changed first entry is named", func(tx *memTx) { tx.entries[0][0] ^= 1 }, 0},
		{"changed last entry is named", func(tx *memTx) { tx.entries[n-1] = append(tx.entries[n-1], '!') }, n - 1},
		{"deleted entry is named", func(tx *memTx) { delete(tx.entries, 20) }, 20},
		{"emptied entry is named", func(tx *memTx) { tx.entries[4] = []byte{} }, 4},
		{"swapped pair is named at the first of the two", func(tx *memTx) {
			tx.entries[8], tx.entries[30] = tx.entries[30], tx.entries[8]
		}, 8},
		{"swapped neighbours are named at the first", func(tx *memTx) {
			tx.entries[16], tx.entries[17] = tx.entries[17], tx.entries[16]
		}, 16},
		{"rolled-back size is named at the new size", func(tx *memTx) { tx.size = 30 }, 30},
		{"size rolled back to zero is named", func(tx *memTx) { tx.size = 0 }, 0},
		{"entries and size rolled back, leaving hashes, is named", func(tx *memTx) {
			for i := int64(30); i < n; i++ {
				delete(tx.entries, i)
			}
			tx.size = 30
		}, 30},
		{"changed leaf hash is named", func(tx *memTx) { tx.hashes[tlog.StoredHashIndex(0, 21)][5] ^= 1 }, 21},
		// The level-3 hash over entries 8..15 is written with entry 15.
		{"changed interior hash is named at the entry that wrote it", func(tx *memTx) { tx.hashes[tlog.StoredHashIndex(3, 1)][0] ^= 1 }, 15},
		{"deleted interior hash is named", func(tx *memTx) { tx.deleteHash(tlog.StoredHashIndex(1, 5)) }, 11},
		{"size beyond the entries is named at the first missing one", func(tx *memTx) { tx.size = n + 2 }, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := clean.clone()
			tc.tamper(tx)
			_, _, err := l.Replay(tx)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Replay = %v, want a *CorruptError", err)
			}
			if ce.Index != tc.index {
				t.Fatalf("Replay named entry %d, want %d (%v)", ce.Index, tc.index, err)
			}
		})
	}

	t.Run("negative stored size is corrupt", func(t *testing.T) {
		tx := clean.clone()
		tx.size = -1
		if _, _, err := l.Replay(tx); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Replay = %v", err)
		}
		if _, err := l.Append(tx, []byte("x")); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Append = %v", err)
		}
	})
}

// countingSigner counts signatures.
type countingSigner struct {
	note.Signer
	n atomic.Int64
}

func (s *countingSigner) Sign(msg []byte) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(msg)
}

func TestCheckpoint(t *testing.T) {
	l, pub := newTestLog(t)
	counter := &countingSigner{Signer: l.signer}
	l.signer = counter
	tx := appendN(t, l, 25)

	vkey, err := note.NewEd25519VerifierKey(testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	std, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{0, 1, 24, 25} {
		signed, err := l.Checkpoint(tx, size)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := l.TreeHash(tx, size)
		c, err := api.OpenCheckpoint(signed, testOrigin, pub)
		if err != nil {
			t.Fatalf("size %d: api.OpenCheckpoint: %v", size, err)
		}
		if c != (api.Checkpoint{Origin: testOrigin, Size: size, Root: root}) {
			t.Fatalf("size %d: checkpoint %+v, root %v", size, c, root)
		}
		n, err := note.Open(signed, note.VerifierList(std))
		if err != nil {
			t.Fatalf("size %d: note.Open with the standard verifier: %v", size, err)
		}
		if want := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, size, root); n.Text != want {
			t.Fatalf("note text %q, want %q", n.Text, want)
		}
	}

	t.Run("repeated calls reuse the signature", func(t *testing.T) {
		first, _ := l.Checkpoint(tx, 25)
		before := counter.n.Load()
		for range 10 {
			again, err := l.Checkpoint(tx, 25)
			if err != nil || !bytes.Equal(again, first) {
				t.Fatalf("Checkpoint = %q, %v", again, err)
			}
		}
		if got := counter.n.Load() - before; got != 0 {
			t.Fatalf("%d signatures for a cached checkpoint", got)
		}
		first[0] = 'X' // the cache hands out copies
		if again, _ := l.Checkpoint(tx, 25); again[0] != testOrigin[0] {
			t.Fatal("changing a returned checkpoint changed the cache")
		}
	})

	t.Run("a checkpoint from an aborted transaction is not handed out again", func(t *testing.T) {
		aborted := tx.clone()
		if _, err := l.Append(aborted, []byte("never committed")); err != nil {
			t.Fatal(err)
		}
		ghost, err := l.Checkpoint(aborted, 26)
		if err != nil {
			t.Fatal(err)
		}
		committed := tx.clone()
		if _, err := l.Append(committed, []byte("committed")); err != nil {
			t.Fatal(err)
		}
		real, err := l.Checkpoint(committed, 26)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(ghost, real) {
			t.Fatal("the aborted transaction's checkpoint came back")
		}
		root, _ := l.TreeHash(committed, 26)
		if c, err := api.OpenCheckpoint(real, testOrigin, pub); err != nil || c.Root != root {
			t.Fatalf("checkpoint %+v, %v; want root %v", c, err, root)
		}
	})

	t.Run("the cache stays bounded", func(t *testing.T) {
		for size := range int64(26) {
			if _, err := l.Checkpoint(tx, size); err != nil {
				t.Fatal(err)
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.signed) > checkpointCacheSize {
			t.Fatalf("%d cached checkpoints", len(l.signed))
		}
	})

	t.Run("concurrent calls agree", func(t *testing.T) {
		var wg sync.WaitGroup
		out := make([][]byte, 8)
		for g := range out {
			wg.Go(func() {
				s, err := l.Checkpoint(tx, int64(20+g%3))
				if err != nil {
					t.Error(err)
				}
				out[g] = s
			})
		}
		wg.Wait()
		for g := range out {
			if want, _ := l.Checkpoint(tx, int64(20+g%3)); !bytes.Equal(out[g], want) {
				t.Errorf("goroutine %d got another checkpoint", g)
			}
		}
	})
}

func TestNewRefusesBadOrigin(t *testing.T) {
	priv, _ := testKey("a")
	for _, origin := range []string{"", "custos/a b", "custos/a+b"} {
		if _, err := New(origin, priv); err == nil {
			t.Errorf("New(%q) accepted it", origin)
		}
	}
	if _, err := New(testOrigin, priv[:10]); err == nil {
		t.Error("New accepted a 10-byte key")
	}
}

// A receipt, as a release answer carries it, verifies end to end with
// nothing but the node's public key: the checkpoint, then the inclusion
// proof against its root, then consistency with an earlier checkpoint.
func TestReceiptVerifiesWithThePublicKeyAlone(t *testing.T) {
	l, pub := newTestLog(t)
	tx := appendN(t, l, 9)
	oldSigned, _ := l.Checkpoint(tx, 9)
	index, err := l.Append(tx, []byte("release of unit u"))
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := l.Checkpoint(tx, index+1)
	proof, _ := l.InclusionProof(tx, index, index+1)

	c, err := api.OpenCheckpoint(signed, api.LogOrigin("node-a"), pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.VerifyInclusion(proof, c.Size, c.Root, index, []byte("release of unit u")); err != nil {
		t.Fatal(err)
	}
	old, err := api.OpenCheckpoint(oldSigned, api.LogOrigin("node-a"), pub)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := l.ConsistencyProof(tx, old.Size, c.Size)
	if err := api.VerifyConsistency(cp, old.Size, old.Root, c.Size, c.Root); err != nil {
		t.Fatal(err)
	}
}
