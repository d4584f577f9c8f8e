package client_test

import (
	"context"
	"errors"
	"github.com/custos-network/custos/client/vault"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// These tests run real custosd processes: five nodes, threshold 3, invite
// enrollment, unless a test says otherwise.

var (
	acme   = &client.Record{Username: "svc-acme", Password: "hunter2-acme"}
	globex = &client.Record{Username: "ci-bot", Password: "globex-s3cret"}
)

func sameRecord(t *testing.T, got, want *client.Record) {
	t.Helper()
	switch {
	case got == nil:
		t.Fatal("no record")
	case got.Username != want.Username || got.Password != want.Password:
		// Never print the secrets themselves.
		t.Fatalf("got another record than was put (username %q)", got.Username)
	}
}

func labels(units []client.Unit) []string {
	var out []string
	for _, u := range units {
		out = append(out, u.Label)
	}
	slices.Sort(out)
	return out
}

// quorumError checks that err is a *QuorumError matching
// ErrNotEnoughCustodians and returns each named node's error.
func quorumError(t *testing.T, err error) (*client.QuorumError, map[string]error) {
	t.Helper()
	if !errors.Is(err, client.ErrNotEnoughCustodians) {
		t.Fatalf("got %v, want ErrNotEnoughCustodians", err)
	}
	var q *client.QuorumError
	if !errors.As(err, &q) {
		t.Fatalf("%T is not a *QuorumError", err)
	}
	named := map[string]error{}
	for _, n := range q.Nodes {
		named[n.Node] = n.Err
	}
	return q, named
}

func TestUnlockPutGetListDelete(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	path := tn.vault(t, "alice")
	c := open(t, path, client.Options{})
	if _, err := c.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrVaultLocked) {
		t.Fatalf("get before unlock: got %v, want ErrVaultLocked", err)
	}
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "globex-api", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "globex-api", acme, client.PutOptions{}); !errors.Is(err, client.ErrExists) {
		t.Fatalf("put of an existing label: got %v, want ErrExists", err)
	}
	if got := tn.shareCounts(t); !slices.Equal(got, []int{2, 2, 2, 2, 2}) {
		t.Fatalf("shares at the nodes: %v, want 2 each", got)
	}
	if got := labels(list(t, c)); !slices.Equal(got, []string{"acme-portal", "globex-api"}) {
		t.Fatalf("list: %v", got)
	}
	for _, u := range list(t, c) {
		if u.Degraded || u.Threshold != 3 || u.Nodes != 5 || u.Version != 1 {
			t.Errorf("unit %s: %+v", u.Label, u)
		}
	}
	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, rec, acme)
	recs, err := c.GetMany(ctx, []string{"globex-api", "acme-portal"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("GetMany returned %d records for 2", len(recs))
	}
	sameRecord(t, recs[0], globex)
	sameRecord(t, recs[1], acme)
	if _, err := c.Get(ctx, "initech"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get of an unknown label: got %v, want ErrNotFound", err)
	}

	if err := c.Delete(ctx, "acme-portal"); err != nil {
		t.Fatal(err)
	}
	if got := tn.shareCounts(t); !slices.Equal(got, []int{1, 1, 1, 1, 1}) {
		t.Fatalf("shares at the nodes after delete: %v, want 1 each", got)
	}
	if _, err := c.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get after delete: got %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, "acme-portal"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second delete: got %v, want ErrNotFound", err)
	}
	if got := labels(list(t, c)); !slices.Equal(got, []string{"globex-api"}) {
		t.Fatalf("list after delete: %v", got)
	}
	for _, st := range c.Status(ctx) {
		if !st.Reachable || !st.LoggedIn || st.Err != nil {
			t.Errorf("status of %s: %+v", st.Name, st)
		}
	}

	// The vault keeps the records across a reopen; Lock ends the unlock.
	c.Lock()
	if _, err := c.Get(ctx, "globex-api"); !errors.Is(err, client.ErrVaultLocked) {
		t.Fatalf("get after lock: got %v, want ErrVaultLocked", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, path, client.Options{})
	if got := labels(list(t, c)); !slices.Equal(got, []string{"globex-api"}) {
		t.Fatalf("list after reopen: %v", got)
	}
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	rec, err = c.Get(ctx, "globex-api")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, rec, globex)
}

func TestQuorumOfSurvivors(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	c, path := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// n-k = 2 nodes crash: a new unlock and a get still work.
	tn.nodes[1].Kill(t)
	tn.nodes[3].Kill(t)
	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("get with 3 of 5 nodes: %v", err)
	}
	sameRecord(t, rec, acme)
	for _, st := range c.Status(ctx) {
		down := st.Name == "n2" || st.Name == "n4"
		if st.Reachable == down || st.LoggedIn == down || (st.Err != nil) != down {
			t.Errorf("status of %s: %+v", st.Name, st)
		}
	}
	c.Close()
	c = open(t, path, client.Options{})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatalf("unlock with 3 of 5 nodes: %v", err)
	}
	rec, err = c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("get with 3 of 5 nodes: %v", err)
	}
	sameRecord(t, rec, acme)

	// One more: the unlocked client's get, and a new unlock, fail naming
	// every node that failed, and give no record.
	tn.nodes[4].Kill(t)
	rec, err = c.Get(ctx, "acme-portal")
	if rec != nil {
		t.Fatal("a record came back from 2 of 5 nodes")
	}
	q, named := quorumError(t, err)
	if q.Need != 3 || q.Have != 2 {
		t.Errorf("get: need %d have %d, want 3 and 2", q.Need, q.Have)
	}
	for _, name := range []string{"n2", "n4", "n5"} {
		if named[name] == nil {
			t.Errorf("get: %s is not named in %v", name, err)
		}
	}
	for _, name := range []string{"n1", "n3"} {
		if named[name] != nil {
			t.Errorf("get: %s, which answered, is named: %v", name, named[name])
		}
	}

	c.Close()
	c2 := open(t, path, client.Options{})
	err = c2.Unlock(ctx, password)
	q, named = quorumError(t, err)
	if q.Need != 3 || q.Have != 2 || len(q.Nodes) != 3 {
		t.Errorf("unlock: need %d have %d, %d nodes named; want 3, 2, 3: %v", q.Need, q.Have, len(q.Nodes), err)
	}
	for _, name := range []string{"n2", "n4", "n5"} {
		if e := named[name]; e == nil || !strings.Contains(e.Error(), "cannot reach it") {
			t.Errorf("unlock: %s: %v, want it named as unreachable", name, e)
		}
	}
	if _, err := c2.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrVaultLocked) {
		t.Errorf("get after a failed unlock: got %v, want ErrVaultLocked", err)
	}
}

func TestImpostorIsRefused(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	c, path := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// n3 stops; another node, with its own key, takes over its addresses.
	card, err := tn.nodes[2].Admin().Card(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tn.nodes[2].Stop(t)
	impostor := nodetest.StartProcess(t, "n3", nodetest.Listen(card.Addrs...), unlimited)
	fake, err := impostor.Admin().Card(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fake.PeerID == card.PeerID || !slices.Equal(fake.Addrs, card.Addrs) {
		t.Fatalf("the impostor is not another key on the same addresses: %v, %v", fake, card)
	}
	before := status(t, impostor)

	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("get with an impostor as n3: %v", err)
	}
	sameRecord(t, rec, acme)
	for _, st := range c.Status(ctx) {
		if st.Name == "n3" {
			if !errors.Is(st.Err, client.ErrImpostor) || st.Reachable || st.LoggedIn {
				t.Errorf("status of n3: %+v, want ErrImpostor", st)
			}
		} else if st.Err != nil {
			t.Errorf("status of %s: %v", st.Name, st.Err)
		}
	}
	c.Close()
	c2 := open(t, path, client.Options{})
	if err := c2.Unlock(ctx, password); err != nil {
		t.Fatalf("unlock with an impostor as n3: %v", err)
	}

	// With two more nodes down, the impostor is named as such.
	tn.nodes[0].Kill(t)
	tn.nodes[1].Kill(t)
	_, err = c2.Get(ctx, "acme-portal")
	_, named := quorumError(t, err)
	if !errors.Is(named["n3"], client.ErrImpostor) {
		t.Errorf("get: n3: %v, want ErrImpostor", named["n3"])
	}
	c2.Close()
	c3 := open(t, path, client.Options{})
	err = c3.Unlock(ctx, password)
	_, named = quorumError(t, err)
	if !errors.Is(named["n3"], client.ErrImpostor) {
		t.Errorf("unlock: n3: %v, want ErrImpostor", named["n3"])
	}

	after := status(t, impostor)
	if after.Accounts != 0 || after.Shares != 0 || after.LogSize != before.LogSize {
		t.Errorf("the impostor was sent something: before %+v, after %+v", before, after)
	}
}

// observed is a logger that keeps what is logged at Warn and above.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.WarnLevel)
	return zap.New(core), logs
}

func TestLyingNodeIsNamed(t *testing.T) {
	ctx := context.Background()
	lying := func(liars ...int) nodeSpec {
		return func(i int) ([]string, []nodetest.Option) {
			if slices.Contains(liars, i) {
				return []string{"CUSTOS_FAULT=alter-shares"}, nil
			}
			return nil, nil
		}
	}

	t.Run("one liar of five", func(t *testing.T) {
		tn := startNet(t, 5, 3, lying(1))
		log, logs := observed()
		c, _ := tn.unlocked(t, "alice", client.Options{Logger: log})
		if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		// A get uses the first three good shares and does not wait for
		// the rest, so n2's share is checked only when it comes early
		// enough: ask until it did.
		for i := 0; i < 40 && logs.Len() == 0; i++ {
			rec, err := c.Get(ctx, "acme-portal")
			if err != nil {
				t.Fatalf("get with one lying node: %v", err)
			}
			sameRecord(t, rec, acme)
		}
		if logs.Len() == 0 {
			t.Fatal("40 gets and the lying node was never named")
		}
		for _, e := range logs.All() {
			if e.Level != zapcore.WarnLevel || e.ContextMap()["node"] != "n2" {
				t.Errorf("logged %s %q %v; want a warning naming n2", e.Level, e.Message, e.ContextMap())
			}
		}
	})

	t.Run("three liars of five", func(t *testing.T) {
		tn := startNet(t, 5, 3, lying(0, 2, 4))
		c, _ := tn.unlocked(t, "alice", client.Options{})
		if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		rec, err := c.Get(ctx, "acme-portal")
		if rec != nil {
			t.Fatal("a record came back with 3 bad shares of 5")
		}
		q, named := quorumError(t, err)
		if q.Have != 2 || q.Need != 3 {
			t.Errorf("need %d have %d, want 3 and 2", q.Need, q.Have)
		}
		for _, name := range []string{"n1", "n3", "n5"} {
			if !errors.Is(named[name], client.ErrBadShare) {
				t.Errorf("%s: %v, want ErrBadShare", name, named[name])
			}
		}
		for _, name := range []string{"n2", "n4"} {
			if named[name] != nil {
				t.Errorf("%s, an honest node, is named: %v", name, named[name])
			}
		}
		// The failed unlock keeps every verified receipt, the liars' too:
		// they logged the releases whose shares were wrong.
		if from := receiptNodes(t, c); !slices.Equal(from, []string{"n1", "n2", "n3", "n4", "n5"}) {
			t.Errorf("receipts from %v; want all five nodes", from)
		}
		if to := requestNodes(c); !slices.Equal(to, []string{"n1", "n2", "n3", "n4", "n5"}) {
			t.Errorf("requests to %v recorded; want all five nodes", to)
		}
	})
}

// receiptNodes lists the nodes of the receipts c's vault keeps, sorted.
func receiptNodes(t testing.TB, c *client.Client) []string {
	var from []string
	for _, r := range receiptsOf(t, c) {
		from = append(from, r.Node)
	}
	slices.Sort(from)
	return from
}

// requestNodes lists, sorted, the nodes of the requests c's vault recorded
// for its first unlock: the journal also holds those recorded ahead for
// the next one, at a later time.
func requestNodes(c *client.Client) []string {
	rs, _, err := c.Requests()
	if err != nil {
		return []string{err.Error()}
	}
	var from []string
	for _, r := range rs {
		if r.Time.Equal(rs[0].Time) {
			from = append(from, r.Node)
		}
	}
	slices.Sort(from)
	return from
}

func TestWrongPasswordIsCounted(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	path := tn.vault(t, "alice")
	c := open(t, path, client.Options{})
	err := c.Unlock(ctx, wrongPassword)
	if !errors.Is(err, client.ErrWrongPassword) {
		t.Fatalf("got %v, want ErrWrongPassword", err)
	}
	quorumError(t, err)
	if _, err := c.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrVaultLocked) {
		t.Errorf("get after a wrong password: got %v, want ErrVaultLocked", err)
	}
	failures := func() []int {
		var out []int
		for _, p := range tn.nodes {
			users, err := p.Admin().Users(ctx)
			if err != nil || len(users) != 1 || users[0].User != "alice" {
				t.Fatalf("users of %s: %v %v", p.Config.Name, users, err)
			}
			out = append(out, users[0].Failures)
		}
		return out
	}
	if got := failures(); !slices.Equal(got, []int{1, 1, 1, 1, 1}) {
		t.Fatalf("failures at the nodes: %v, want 1 each", got)
	}

	// The right password works once the backoff passed, and resets the count.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = c.Unlock(ctx, password)
		if err == nil || !errors.Is(err, client.ErrRateLimited) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := failures(); !slices.Equal(got, []int{0, 0, 0, 0, 0}) {
		t.Fatalf("failures at the nodes after a good login: %v, want 0 each", got)
	}
}

func TestInterruptedPutLeavesNothing(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "globex-api", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	tn.nodes[3].Kill(t)
	before := tn.shareCounts(t)

	err := c.Put(ctx, "acme-portal", acme, client.PutOptions{})
	q, named := quorumError(t, err)
	if q.Need != 5 || q.Have != 4 || len(q.Nodes) != 1 || named["n4"] == nil {
		t.Errorf("put: need %d have %d, nodes %v; want 5, 4 and n4 alone", q.Need, q.Have, q.Nodes)
	}
	if slices.Contains(labels(list(t, c)), "acme-portal") {
		t.Error("the vault lists a put that failed")
	}
	if _, err := c.Get(ctx, "acme-portal"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("get of a failed put: %v, want ErrNotFound", err)
	}
	if got := tn.shareCounts(t); !slices.Equal(got, before) {
		t.Errorf("shares at the nodes: %v, want %v as before the put", got, before)
	}

	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{MinAcks: 3}); err == nil || errors.Is(err, client.ErrNotEnoughCustodians) {
		t.Errorf("put with MinAcks at the threshold: got %v, want it refused", err)
	}
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{MinAcks: 4}); err != nil {
		t.Fatalf("put with MinAcks 4 and 4 nodes up: %v", err)
	}
	for _, u := range list(t, c) {
		if u.Degraded != (u.Label == "acme-portal") {
			t.Errorf("unit %s: degraded %v", u.Label, u.Degraded)
		}
	}
	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, rec, acme)
}

func TestExpiredSessionLogsInAgain(t *testing.T) {
	const idle = 1500 * time.Millisecond
	tn := startNet(t, 5, 3, func(int) ([]string, []nodetest.Option) {
		return nil, []nodetest.Option{func(c *config.Config) { c.Auth.SessionIdle = idle }}
	})
	ctx := context.Background()
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	logins := func() int64 {
		var sum int64
		for _, p := range tn.nodes {
			sum += status(t, p).LogSize
		}
		return sum
	}
	before := logins()
	time.Sleep(idle + 500*time.Millisecond)
	rec, err := c.Get(ctx, "acme-portal")
	if err != nil {
		t.Fatalf("get after the session expired: %v", err)
	}
	sameRecord(t, rec, acme)
	// Each node answering logged a login and a release.
	if grew := logins() - before; grew < 2*3 {
		t.Errorf("the nodes' logs grew by %d entries; want a login and a release at 3 nodes at least", grew)
	}
}

// A node that accepts connections but never answers (stopped with SIGSTOP)
// does not hold up an unlock or a get that the others can serve: neither
// waits out the request timeout.
func TestSilentNodeDoesNotHoldUpUnlock(t *testing.T) {
	tn := startNet(t, 4, 3, nil)
	c, path := tn.unlocked(t, "alice", client.Options{})
	rec := &client.Record{Username: "svc", Password: "pw"}
	if err := c.Put(context.Background(), "acme", rec, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	silent := tn.nodes[3]
	if err := silent.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Signal(syscall.SIGCONT) })

	const timeout = 30 * time.Second
	core, logs := observer.New(zapcore.DebugLevel)
	c = open(t, path, client.Options{Timeout: timeout, Logger: zap.New(core)})
	if err := c.Unlock(context.Background(), password); err != nil {
		t.Fatal(err)
	}
	// The login round trips, without the password hash: with the silent
	// node waited for they take libp2p's handshake timeout (about 5 s).
	entries := logs.FilterMessage("unlock").All()
	if len(entries) != 1 {
		t.Fatalf("%d unlock log entries", len(entries))
	}
	logins, ok := entries[0].ContextMap()["logins"].(time.Duration)
	if !ok {
		t.Fatalf("no logins duration in %v", entries[0].ContextMap())
	}
	if logins > 3*time.Second {
		t.Errorf("the logins took %v with one silent node: unlock waited for it", logins)
	}
	start := time.Now()
	got, err := c.Get(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, rec)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the get took %v with one silent node: it waited for it", d)
	}
}

// A delete that a node misses is remembered in the vault and retried at
// the next unlock, until the node confirms it.
func TestDeleteIsRetriedAtTheNextUnlock(t *testing.T) {
	tn := startNet(t, 4, 3, nil)
	c, path := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(context.Background(), "acme", &client.Record{Password: "pw"}, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	away := tn.nodes[3]
	if err := away.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	c = open(t, path, client.Options{Timeout: 2 * time.Second})
	if err := c.Unlock(context.Background(), password); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), "acme"); err != nil {
		t.Fatalf("a delete that one node missed: %v", err)
	}
	if _, err := c.Get(context.Background(), "acme"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	c.Close()
	if err := away.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if got := tn.shareCounts(t); !slices.Equal(got, []int{0, 0, 0, 1}) {
		t.Fatalf("shares after the delete: %v, want only the missed node's", got)
	}
	c = open(t, path, client.Options{})
	if err := c.Unlock(context.Background(), password); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := tn.shareCounts(t); !slices.Equal(got, []int{0, 0, 0, 0}) {
		t.Fatalf("shares after the next unlock: %v, want none", got)
	}
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if p, err := h.PendingDeletes(); err != nil || len(p) != 0 {
		t.Errorf("the vault still holds pending deletes: %v", p)
	}
}

func TestReleaseWithoutValidReceiptIsRefused(t *testing.T) {
	ctx := context.Background()
	badReceipts := func(liars ...int) nodeSpec {
		return func(i int) ([]string, []nodetest.Option) {
			if slices.Contains(liars, i) {
				return []string{"CUSTOS_FAULT=bad-receipt"}, nil
			}
			return nil, nil
		}
	}

	t.Run("one node of five with bad receipts is named and skipped", func(t *testing.T) {
		tn := startNet(t, 5, 3, badReceipts(1))
		log, logs := observed()
		c, path := tn.unlocked(t, "alice", client.Options{Logger: log})
		if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		// A get does not wait for the slowest nodes: ask until n2 answered
		// in time to be checked.
		for i := 0; i < 40 && logs.Len() == 0; i++ {
			rec, err := c.Get(ctx, "acme-portal")
			if err != nil {
				t.Fatalf("get with one node sending bad receipts: %v", err)
			}
			sameRecord(t, rec, acme)
		}
		if logs.Len() == 0 {
			t.Fatal("40 gets and the node with bad receipts was never named")
		}
		for _, e := range logs.All() {
			if e.Level != zapcore.WarnLevel || e.ContextMap()["node"] != "n2" {
				t.Errorf("logged %s %q %v; want a warning naming n2", e.Level, e.Message, e.ContextMap())
			}
		}
		h := closeAndOpen(t, c, path)
		unit, _, err := h.Describe("acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		receipts, err := h.Receipts()
		if err != nil {
			t.Fatal(err)
		}
		from := map[string]bool{}
		for _, r := range receipts {
			from[r.Node] = true
			if len(r.Units) != 1 || r.Units[0].ID != unit.ID || r.Units[0].Version != unit.Version {
				t.Errorf("a receipt from %s names other units", r.Node)
			}
		}
		if len(from) < 3 || from["n2"] {
			t.Errorf("the vault keeps receipts from %v; want at least three honest nodes and never n2", from)
		}
	})

	t.Run("three nodes of five with bad receipts fail the get", func(t *testing.T) {
		tn := startNet(t, 5, 3, badReceipts(0, 2, 4))
		c, _ := tn.unlocked(t, "alice", client.Options{})
		if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		rec, err := c.Get(ctx, "acme-portal")
		if rec != nil {
			t.Fatal("a record came back with 3 bad receipts of 5")
		}
		q, named := quorumError(t, err)
		if q.Have != 2 || q.Need != 3 {
			t.Errorf("need %d have %d, want 3 and 2", q.Need, q.Have)
		}
		for _, name := range []string{"n1", "n3", "n5"} {
			if !errors.Is(named[name], client.ErrBadReceipt) {
				t.Errorf("%s: %v, want ErrBadReceipt", name, named[name])
			}
		}
		for _, name := range []string{"n2", "n4"} {
			if named[name] != nil {
				t.Errorf("%s, an honest node, is named: %v", name, named[name])
			}
		}
		// The failed unlock still keeps the honest nodes' receipts: they
		// show an auditor whose releases these were.
		if from := receiptNodes(t, c); !slices.Equal(from, []string{"n2", "n4"}) {
			t.Errorf("receipts from %v; want n2 and n4", from)
		}
		if to := requestNodes(c); !slices.Equal(to, []string{"n1", "n2", "n3", "n4", "n5"}) {
			t.Errorf("requests to %v recorded; want all five nodes", to)
		}
	})
}
