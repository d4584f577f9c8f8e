package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// TestMain removes the binaries the tests built. As a child of
// BenchmarkVaultScale it measures a client's memory instead (rssChild).
func TestMain(m *testing.M) {
	if spec := os.Getenv(rssEnv); spec != "" {
		os.Exit(rssChild(spec))
	}
	code := m.Run()
	nodetest.RemoveBinary()
	removeCustosBinary()
	os.Exit(code)
}

// The one password of the tests' users, and a wrong one.
var (
	password      = []byte("correct horse battery staple")
	wrongPassword = []byte("incorrect horse battery staple")
)

// unlimited raises the nodes' rate limits so that no test or benchmark is
// refused for asking often, and shortens the login backoff.
func unlimited(c *config.Config) {
	c.Limits.UnitReleases = config.Bucket{Burst: 1 << 30, Every: time.Millisecond}
	c.Limits.UserReleases = config.Bucket{Burst: 1 << 30, Every: time.Millisecond}
	c.Limits.MaxStreamsPerPeer = 1024
	c.Auth.BackoffBase = 10 * time.Millisecond
	c.Auth.BackoffMax = 100 * time.Millisecond
}

// testNet is a network of real custosd processes n1..nN with invite
// enrollment, and its network file.
type testNet struct {
	nodes   []*nodetest.Process
	k       int
	network []byte
}

// nodeSpec says how to start node i (from 0): extra environment variables
// and options.
type nodeSpec func(i int) (env []string, opts []nodetest.Option)

// startNet starts n nodes with threshold k. Every custosd of this test
// binary is built with the custosfault tag, which does nothing unless a
// node's environment sets CUSTOS_FAULT.
func startNet(t testing.TB, n, k int, spec nodeSpec) *testNet {
	t.Helper()
	nodetest.Binary(t, "custosfault")
	tn := &testNet{k: k}
	all := make([]int, n)
	for i := range n {
		all[i] = i
		opts := []nodetest.Option{nodetest.Invite, unlimited}
		var env []string
		if spec != nil {
			e, o := spec(i)
			env, opts = e, append(opts, o...)
		}
		p := nodetest.StartProcessEnv(t, fmt.Sprintf("n%d", i+1), env, opts...)
		tn.nodes = append(tn.nodes, p)
	}
	tn.network = tn.subnet(t, k, all...)
	return tn
}

// invite returns an invite token for user from every node.
func (tn *testNet) invite(t testing.TB, user string) map[string]string {
	t.Helper()
	tokens := map[string]string{}
	for _, p := range tn.nodes {
		inv, err := p.Admin().Invite(context.Background(), user, 0)
		if err != nil {
			t.Fatal(err)
		}
		tokens[p.Config.Name] = inv.Token
	}
	return tokens
}

// vault makes a vault for user and enrolls it at every node; it returns the
// vault's path.
func (tn *testNet) vault(t testing.TB, user string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), user+".vault")
	if err := client.Init(path, tn.network, user); err != nil {
		t.Fatal(err)
	}
	c := open(t, path, client.Options{})
	results, err := c.Enroll(context.Background(), password, tn.invite(t, user))
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	for _, r := range results {
		if r.State != client.EnrolledNow || r.Err != nil {
			t.Fatalf("enroll: %s: %s %v", r.Node, r.State, r.Err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// open opens the vault at path; the client is closed when the test ends.
func open(t testing.TB, path string, o client.Options) *client.Client {
	t.Helper()
	if o.Timeout == 0 {
		// A crashed node's QUIC connection, or a dial of its QUIC
		// address, answers nothing: each request waits this long.
		o.Timeout = 2 * time.Second
	}
	c, err := client.Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// unlocked makes an enrolled user's vault, opens and unlocks it.
func (tn *testNet) unlocked(t testing.TB, user string, o client.Options) (*client.Client, string) {
	t.Helper()
	path := tn.vault(t, user)
	c := open(t, path, o)
	if err := c.Unlock(context.Background(), password); err != nil {
		t.Fatal(err)
	}
	return c, path
}

// status is node p's admin status.
func status(t testing.TB, p *nodetest.Process) *adminStatus {
	t.Helper()
	st, err := p.Admin().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &adminStatus{Shares: st.Shares, Accounts: st.Accounts, LogSize: st.LogSize}
}

type adminStatus struct {
	Shares, Accounts int
	LogSize          int64
}

// shareCounts is the number of shares each running node holds.
func (tn *testNet) shareCounts(t testing.TB) []int {
	t.Helper()
	var out []int
	for _, p := range tn.nodes {
		if p.Exited() {
			out = append(out, -1)
			continue
		}
		out = append(out, status(t, p).Shares)
	}
	return out
}

// list is c.List(""), failing t on an error.
func list(t testing.TB, c *client.Client) []client.Unit {
	t.Helper()
	units, err := c.List("")
	if err != nil {
		t.Fatal(err)
	}
	return units
}

// receiptsOf is c.Receipts(), failing t on an error.
func receiptsOf(t testing.TB, c *client.Client) []vault.Receipt {
	t.Helper()
	rs, err := c.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// closeAndOpen closes c and opens its vault at path, as the next run
// would find it; the vault is closed when the test ends.
func closeAndOpen(t testing.TB, c *client.Client, path string) *vault.Handle {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
