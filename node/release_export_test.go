package node

import "testing"

// FailReleaseStoreForTest makes the store step of every release named step
// ("update": the log update; "receipt": the read of the receipt) fail with
// err, until the test ends.
func (n *Node) FailReleaseStoreForTest(t testing.TB, step string, err error) {
	f := func(s string) error {
		if s == step {
			return err
		}
		return nil
	}
	n.releaseFault.Store(&f)
	t.Cleanup(func() { n.releaseFault.Store(nil) })
}

// SetReplayBoundsForTest bounds the replay memory of the nodes made after
// it, node-wide and per user, until the test ends.
func SetReplayBoundsForTest(t testing.TB, total, perUser int) {
	testSeenBounds = &struct{ total, perUser int }{total, perUser}
	t.Cleanup(func() { testSeenBounds = nil })
}
