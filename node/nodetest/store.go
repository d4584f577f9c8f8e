package nodetest

import (
	"testing"

	"go.uber.org/zap"

	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/store"
)

// OpenStore opens the store of p, which must not run (Stop it first), with
// its storage key from its key file: what a test reads or changes at rest.
// The caller closes it.
func (p *Process) OpenStore(t testing.TB) *store.Store {
	t.Helper()
	key, err := node.LoadStorageKey(p.Config.Path(p.Config.StorageKey.File))
	if err != nil {
		t.Fatal(err)
	}
	defer clear(key)
	s, err := store.Open(p.Config.Path(p.Config.DataDir), key, zap.NewNop())
	if err != nil {
		t.Fatalf("open the stopped node's store: %v", err)
	}
	return s
}
