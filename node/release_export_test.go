package node

import "testing"

// FailReleaseStoreForTest makes the store step of every release named step
// ("update": the log update; "receipt": the read of the receipt) fail with
// err, until the test ends.
func FailReleaseStoreForTest(t testing.TB, step string, err error) {
	f := func(s string) error {
		if s == step {
			return err
		}
		return nil
	}
	releaseStoreFault.Store(&f)
	t.Cleanup(func() { releaseStoreFault.Store(nil) })
}

// SetReplayBoundsForTest bounds the replay memory of the nodes made after
// it, node-wide and per user, until the test ends.
func SetReplayBoundsForTest(t testing.TB, total, perUser int) {
	testSeenBounds = &struct{ total, perUser int }{total, perUser}
	t.Cleanup(func() { testSeenBounds = nil })
}
