package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// fill writes one of everything and returns what it wrote, to compare.
func fill(t *testing.T, s *Store) {
	t.Helper()
	update(t, s, func(tx *Tx) error {
		for _, u := range []string{"alice", "bob"} {
			a := testAccount(u)
			a.Locked = u == "bob"
			if err := tx.PutAccount(a); err != nil {
				return err
			}
			if err := tx.PutOprfKeyShare(u, 1, testKeyShare(u, 1)); err != nil {
				return err
			}
			for v := uint64(1); v <= 2; v++ {
				if err := tx.PutShare(u, unit(1), v, testShare(u, unit(1), v)); err != nil {
					return err
				}
			}
		}
		if err := tx.PutInvite(&Invite{Hash: [32]byte{7}, User: "carol", Expires: epoch, Created: epoch}); err != nil {
			return err
		}
		for i := range int64(10) {
			if err := tx.PutLogEntry(i, []byte{byte(i)}); err != nil {
				return err
			}
			if err := tx.PutLogHash(i, [32]byte{byte(i)}); err != nil {
				return err
			}
		}
		if err := tx.SetLogSize(10); err != nil {
			return err
		}
		return tx.SetMeta("peer-id", []byte("12D3KooW"))
	})
	// A second update deletes something, which must stay deleted.
	update(t, s, func(tx *Tx) error { return tx.DeleteShare("bob", unit(1), 1) })
}

func checkFilled(t *testing.T, s *Store) {
	t.Helper()
	view(t, s, func(tx *Tx) error {
		for _, u := range []string{"alice", "bob"} {
			a, err := tx.Account(u)
			if err != nil {
				t.Fatalf("account %s: %v", u, err)
			}
			want := testAccount(u)
			want.Locked = u == "bob"
			if !sameAccount(a, want) {
				t.Errorf("account %s = %+v", u, a)
			}
			ks, err := tx.OprfKeyShare(u, 1)
			if err != nil || !bytes.Equal(ks, testKeyShare(u, 1)) {
				t.Errorf("OPRF key share of %s does not read back (%v)", u, err)
			}
			clear(ks)
		}
		for _, c := range []struct {
			user string
			v    uint64
			ok   bool
		}{{"alice", 1, true}, {"alice", 2, true}, {"bob", 1, false}, {"bob", 2, true}} {
			got, err := tx.Share(c.user, unit(1), c.v)
			if !c.ok {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("deleted share %s/%d: %v", c.user, c.v, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, testShare(c.user, unit(1), c.v)) {
				t.Errorf("share %s/%d does not read back (%v)", c.user, c.v, err)
			}
			clear(got)
		}
		inv, err := tx.Invite([32]byte{7})
		if err != nil || inv.User != "carol" || !inv.Expires.Equal(epoch) {
			t.Errorf("invite = %+v, %v", inv, err)
		}
		for i := range int64(10) {
			e, err := tx.LogEntry(i)
			h, herr := tx.LogHash(i)
			if err != nil || herr != nil || !bytes.Equal(e, []byte{byte(i)}) || h != [32]byte{byte(i)} {
				t.Errorf("log %d: %x %x %v %v", i, e, h, err, herr)
			}
		}
		if n, err := tx.LogSize(); n != 10 || err != nil {
			t.Errorf("log size %d, %v", n, err)
		}
		if m, err := tx.Meta("peer-id"); err != nil || string(m) != "12D3KooW" {
			t.Errorf("meta %q, %v", m, err)
		}
		return nil
	})
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Accounts != 2 || st.LockedAccounts != 1 || st.Shares != 3 || st.LogSize != 10 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestReopenKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testKey, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDiskAt(t, dir)
	checkFilled(t, s)
	if st, _ := s.Stats(); st.DiskBytes <= 0 {
		t.Errorf("reopened store reports %d bytes on disk", st.DiskBytes)
	}
}

// TestUncleanStopKeepsAcknowledgedWrites copies the data directory while the
// store is still open, as a crash would leave it, and opens the copy.
func TestUncleanStopKeepsAcknowledgedWrites(t *testing.T) {
	s := openDisk(t)
	fill(t, s)
	src := s.db.Opts().Dir
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "LOCK" {
			copySparse(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
		}
	}
	checkFilled(t, openDiskAt(t, dst))
}

func TestOpenWrongKey(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testKey, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// No test logger: Badger's failed Open leaves a goroutine that may log
	// after the test (see TestMain).
	_, err = Open(dir, otherKey, zap.NewNop())
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key = %v, want ErrWrongKey", err)
	}
	if !strings.Contains(err.Error(), "storage key does not match") {
		t.Errorf("error %q does not say what is wrong", err)
	}
	checkFilled(t, openDiskAt(t, dir)) // and nothing was harmed
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openDiskAt(t, dir)
	_, err := Open(dir, testKey, testLogger(t))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openDiskAt(t, dir)
}

func TestOpenRefusesBadArguments(t *testing.T) {
	for name, open := range map[string]func() (*Store, error){
		"short storage key": func() (*Store, error) { return Open(t.TempDir(), testKey[:31], nil) },
		"no storage key":    func() (*Store, error) { return OpenInMemory(nil, nil) },
		"no directory":      func() (*Store, error) { return Open("", testKey, nil) },
	} {
		if s, err := open(); !errors.Is(err, ErrInvalid) {
			if s != nil {
				_ = s.Close()
			}
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestBackupRestore(t *testing.T) {
	s := openDisk(t)
	fill(t, s)
	var backup bytes.Buffer
	if err := s.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	// The stream is Badger's, in the clear except for the shares and the
	// OPRF key shares.
	for _, u := range []string{"alice", "bob"} {
		if bytes.Contains(backup.Bytes(), testKeyShare(u, 1)[len(u):]) {
			t.Errorf("backup holds the OPRF key share of %s in the clear", u)
		}
		for v := uint64(1); v <= 2; v++ {
			if bytes.Contains(backup.Bytes(), testShare(u, unit(1), v)[5:]) {
				t.Errorf("backup holds share %s/%d in the clear", u, v)
			}
		}
	}

	t.Run("into a new directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "restored")
		if err := RestoreInto(dir, testKey, bytes.NewReader(backup.Bytes()), testLogger(t)); err != nil {
			t.Fatal(err)
		}
		checkFilled(t, openDiskAt(t, dir))
	})
	t.Run("into an empty directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := RestoreInto(dir, testKey, bytes.NewReader(backup.Bytes()), testLogger(t)); err != nil {
			t.Fatal(err)
		}
		checkFilled(t, openDiskAt(t, dir))
	})
	t.Run("into a non-empty directory is refused", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := RestoreInto(dir, testKey, bytes.NewReader(backup.Bytes()), testLogger(t))
		if !errors.Is(err, ErrNotEmpty) {
			t.Errorf("RestoreInto = %v, want ErrNotEmpty", err)
		}
		if names, _ := os.ReadDir(dir); len(names) != 1 {
			t.Errorf("the directory now holds %d entries", len(names))
		}
	})
	t.Run("under another storage key is refused and leaves nothing", func(t *testing.T) {
		dir := t.TempDir()
		err := RestoreInto(dir, otherKey, bytes.NewReader(backup.Bytes()), testLogger(t))
		if !errors.Is(err, ErrWrongKey) {
			t.Errorf("RestoreInto = %v, want ErrWrongKey", err)
		}
		if names, _ := os.ReadDir(dir); len(names) != 0 {
			t.Errorf("the directory holds %d entries after a failed restore", len(names))
		}
	})
	t.Run("of a truncated stream fails and leaves nothing", func(t *testing.T) {
		dir := t.TempDir()
		cut := io.LimitReader(bytes.NewReader(backup.Bytes()), int64(backup.Len()/2))
		if err := RestoreInto(dir, testKey, cut, testLogger(t)); err == nil {
			t.Error("RestoreInto of half a backup succeeded")
		}
		if names, _ := os.ReadDir(dir); len(names) != 0 {
			t.Errorf("the directory holds %d entries after a failed restore", len(names))
		}
	})
}

// TestDurableUnderLoad closes the store while updates are still arriving:
// every update that returned nil is there after reopening.
func TestDurableUnderLoad(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testKey, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		i   int64
		err error
	}
	results := make(chan result, 256)
	for g := range int64(8) {
		go func() {
			for j := range int64(32) {
				i := g*100 + j
				results <- result{i, s.Update(context.Background(), putEntry(i))}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var acked []int64
	for range 8 * 32 {
		r := <-results
		switch {
		case r.err == nil:
			acked = append(acked, r.i)
		case !errors.Is(r.err, ErrClosed):
			t.Errorf("update %d: %v", r.i, r.err)
		}
	}
	s = openDiskAt(t, dir)
	want := map[int64]bool{}
	for _, i := range acked {
		want[i] = true
	}
	checkEntries(t, s, want)
	t.Logf("%d of %d updates were acknowledged before Close", len(acked), 8*32)
}

// copySparse copies a file, leaving holes where the source reads as zeros:
// Badger preallocates its logs, and writing them out in full is slow.
func copySparse(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	buf, zeros := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(src, buf)
		if !bytes.Equal(buf[:n], zeros[:n]) {
			if _, err := dst.WriteAt(buf[:n], off); err != nil {
				t.Fatal(err)
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Truncate(off); err != nil {
		t.Fatal(err)
	}
}
