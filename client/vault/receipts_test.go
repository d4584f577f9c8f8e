package vault

import (
	"testing"
	"time"
)

// holdWriter begins a write transaction of h's database, which holds off
// every other write until the returned function ends it.
func holdWriter(t *testing.T, h *Handle) (release func()) {
	t.Helper()
	tx, err := h.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback() }
}

// receiptIndexes are the log indexes of the receipts the vault at path
// keeps on disk.
func receiptIndexes(t *testing.T, path string) []uint64 {
	t.Helper()
	h := mustOpen(t, path)
	defer h.Close()
	rs, err := h.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, r := range rs {
		out = append(out, r.Index)
	}
	return out
}

// waitFor reports whether ch delivers within d.
func waitFor[T any](ch <-chan T, d time.Duration) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	case <-time.After(d):
		var zero T
		return zero, false
	}
}

// saveHeldOff starts a SaveInBackground of h while another writer holds
// off its write (release ends that), and fails the test if it does not
// return first. done is SaveInBackground's.
func saveHeldOff(t *testing.T, h *Handle, done func(error)) (release func()) {
	t.Helper()
	release = holdWriter(t, h)
	returned := make(chan error, 1)
	go func() { returned <- h.SaveInBackground(done) }()
	err, ok := waitFor(returned, 10*time.Second)
	if !ok || err != nil {
		release()
		t.Fatalf("SaveInBackground returned %v (before its write: %v)", err, ok)
	}
	return release
}

// SaveInBackground returns before its write, which another writer holds
// off here, and the write then reaches the disk: the caller does not wait
// for the database's sync.
func TestSaveInBackgroundDoesNotWaitForTheWrite(t *testing.T) {
	h, path := openNew(t)
	if err := h.AddReceipts(testReceipt(100)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	release := saveHeldOff(t, h, func(err error) { done <- err })
	if _, ok := waitFor(done, 100*time.Millisecond); ok {
		release()
		t.Fatal("the save was written while another writer held the database")
	}
	release()
	if err, ok := waitFor(done, 10*time.Second); !ok || err != nil {
		t.Fatalf("the background save: ended %v, error %v", ok, err)
	}
	h.Close()
	if got := receiptIndexes(t, path); len(got) != 3 || got[2] != 100 {
		t.Fatalf("receipts on disk: %v, want 57, and the lie, and 100", got)
	}
}

// A save, and Close, wait for a save still under way in the background:
// its receipts are on disk, and written once, when they return.
func TestSaveAndCloseWaitForABackgroundSave(t *testing.T) {
	for _, next := range []string{"Save", "Close"} {
		t.Run(next, func(t *testing.T) {
			h, path := openNew(t)
			if err := h.AddReceipts(testReceipt(100)); err != nil {
				t.Fatal(err)
			}
			release := saveHeldOff(t, h, nil)
			ended := make(chan error, 1)
			go func() {
				if next == "Save" {
					ended <- h.Save()
				} else {
					ended <- h.Close()
				}
			}()
			if _, ok := waitFor(ended, 100*time.Millisecond); ok {
				release()
				t.Fatalf("%s did not wait for the save under way", next)
			}
			release()
			if err, ok := waitFor(ended, 10*time.Second); !ok || err != nil {
				t.Fatalf("%s: ended %v, error %v", next, ok, err)
			}
			h.Close()
			if got := receiptIndexes(t, path); len(got) != 3 || got[2] != 100 {
				t.Fatalf("receipts on disk: %v, want 57, and the lie, and 100", got)
			}
		})
	}
}

// A background save with nothing to write still says it ended, at once.
func TestSaveInBackgroundOfNothingEnds(t *testing.T) {
	h, _ := openNew(t)
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	called := 0
	if err := h.SaveInBackground(func(err error) {
		if err != nil {
			t.Error(err)
		}
		called++
	}); err != nil {
		t.Fatal(err)
	}
	if called != 1 {
		t.Fatalf("done was called %d times before SaveInBackground returned, want once", called)
	}
}
