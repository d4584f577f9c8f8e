package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/agent"
	"github.com/custos-network/custos/node/nodetest"
)

var password = []byte("correct horse battery staple")

// network starts n custosd processes (with opts; with the nodes' default
// limits unless opts change them), and returns the network file.
func network(t testing.TB, n, k int, opts ...nodetest.Option) ([]*nodetest.Process, []byte) {
	t.Helper()
	nodetest.Binary(t)
	var nodes []*nodetest.Process
	var cards []*api.Card
	for i := range n {
		p := nodetest.StartProcess(t, fmt.Sprintf("n%d", i+1), opts...)
		card, err := p.Admin().Card(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		nodes, cards = append(nodes, p), append(cards, card)
	}
	nw, err := client.NewNetwork(k, cards)
	if err != nil {
		t.Fatal(err)
	}
	return nodes, nw.Marshal()
}

// enrolled makes user's vault, enrolled at every node, with the records
// labels (password "secret-LABEL"); it returns the vault's path.
func enrolled(t testing.TB, nodes []*nodetest.Process, network []byte, user string, labels ...string) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), user+".db")
	if err := client.Init(path, network, user); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, p := range nodes {
		inv, err := p.Admin().Invite(ctx, user, 0)
		if err != nil {
			t.Fatal(err)
		}
		tokens[p.Config.Name] = inv.Token
	}
	c, err := client.Open(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Enroll(ctx, password, tokens); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	for _, l := range labels {
		if err := c.Put(ctx, l, &client.Record{Username: "svc", Password: "secret-" + l}, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// unlocked starts an agent for the vault at path and unlocks it.
func unlocked(t *testing.T, path string, cfg agent.Config) (*agent.Conn, *agent.Info, <-chan string) {
	t.Helper()
	cfg.Vault = path
	_, ended := serve(t, cfg)
	a := dial(t, path)
	info, err := a.Unlock(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	return a, info, ended
}

func getOne(a *agent.Conn, label string) error {
	recs, err := a.GetMany(context.Background(), []string{label})
	if err == nil && recs[0].Password != "secret-"+label {
		return errors.New("a wrong password came back")
	}
	return err
}

// TestAgentWithNodes runs agents against one network of 5 real custosd
// processes with their default limits.
func TestAgentWithNodes(t *testing.T) {
	runtimeDir(t)
	nodes, nw := network(t, 5, 3, nodetest.Invite)
	t.Run("it locks after its idle timeout", func(t *testing.T) {
		path := enrolled(t, nodes, nw, "idle", "acme")
		a, _, _ := unlocked(t, path, agent.Config{Idle: time.Second})
		if err := getOne(a, "acme"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if err := getOne(a, "acme"); !errors.Is(err, agent.ErrLocked) {
			t.Fatalf("get after the idle timeout: %v, want ErrLocked", err)
		}
		if info, err := a.Info(context.Background()); err != nil || info.Unlocked {
			t.Fatalf("info after the idle timeout: %+v, %v; want locked", info, err)
		}
		// It let go of the vault.
		c, err := client.Open(path, client.Options{})
		if err != nil {
			t.Fatalf("open the vault a locked agent had: %v", err)
		}
		c.Close()
	})
	t.Run("it locks at its maximum lifetime however busy", func(t *testing.T) {
		path := enrolled(t, nodes, nw, "busy", "acme")
		a, info, _ := unlocked(t, path, agent.Config{Idle: time.Hour, MaxLifetime: 2 * time.Second})
		var err error
		for asked := 0; err == nil; asked++ {
			if time.Since(info.Ends) > 30*time.Second {
				t.Fatalf("still unlocked 30s after its maximum lifetime, asked %d times", asked)
			}
			time.Sleep(50 * time.Millisecond)
			_, err = a.List(context.Background(), "")
		}
		if !errors.Is(err, agent.ErrLocked) || time.Now().Before(info.Ends) {
			t.Fatalf("list at %s, the maximum lifetime ending at %s: %v, want ErrLocked after it", time.Now(), info.Ends, err)
		}
	})
	t.Run("lock locks it", func(t *testing.T) {
		path := enrolled(t, nodes, nw, "locker", "acme")
		a, _, _ := unlocked(t, path, agent.Config{})
		if err := a.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := getOne(a, "acme"); !errors.Is(err, agent.ErrLocked) {
			t.Fatalf("get after lock: %v, want ErrLocked", err)
		}
	})
	t.Run("a lock while an unlock is under way is not undone by it", func(t *testing.T) {
		path := enrolled(t, nodes, nw, "racer", "acme")
		s, _ := serve(t, agent.Config{Vault: path})
		a := dial(t, path)
		unlocked := make(chan error, 1)
		go func() {
			_, err := a.Unlock(context.Background(), password)
			unlocked <- err
		}()
		for !s.Unlocking() {
			select {
			case err := <-unlocked:
				t.Fatalf("the unlock ended (%v) before it was seen under way", err)
			case <-time.After(time.Millisecond):
			}
		}
		if err := a.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-unlocked; !errors.Is(err, agent.ErrLocked) {
			t.Errorf("an unlock that a lock overtook: %v, want ErrLocked", err)
		}
		if info, err := a.Info(context.Background()); err != nil || info.Unlocked {
			t.Fatalf("after custos lock answered, an unlock under way unlocked the agent: %+v, %v", info, err)
		}
	})
	t.Run("parallel clients fail only by the nodes' policy, and every release is logged with the agent's device", func(t *testing.T) {
		path := enrolled(t, nodes, nw, "alice", "acme", "globex")
		a, info, _ := unlocked(t, path, agent.Config{})
		var tally tally
		var wg sync.WaitGroup
		stop := time.Now().Add(4 * time.Second)
		for i := range 20 {
			wg.Go(func() {
				label := []string{"acme", "globex"}[i%2]
				for time.Now().Before(stop) {
					tally.add(getOne(a, label))
				}
			})
		}
		wg.Wait()
		t.Logf("20 clients for 4s: %d gets, %d refused by the nodes' rate limits", tally.ok, tally.limited)
		if len(tally.other) > 0 || tally.ok == 0 {
			t.Fatalf("%d gets; failures other than the nodes' policy: %v", tally.ok, tally.other)
		}
		if err := a.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkLogged(t, path, info.Device, tally.ok)
	})
}

// tally counts the outcomes of gets.
type tally struct {
	mu          sync.Mutex
	ok, limited int
	other       []error
}

func (t *tally) add(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil:
		t.ok++
	case errors.Is(err, client.ErrRateLimited):
		t.limited++
	case len(t.other) < 5:
		t.other = append(t.other, err)
	}
}

// checkLogged reads the nodes' logs as the vault's user: every release
// entry names the agent's device, and each successful get was released by
// at least the threshold of nodes.
func checkLogged(t *testing.T, path, device string, gets int) {
	t.Helper()
	c, err := client.Open(path, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Unlock(context.Background(), password); err != nil {
		t.Fatal(err)
	}
	logged, failed, err := c.Log(context.Background())
	if err != nil || len(failed) > 0 {
		t.Fatalf("read the logs: %v %v", err, failed)
	}
	id, err := peer.Decode(device)
	if err != nil {
		t.Fatal(err)
	}
	released := 0
	for _, le := range logged {
		e := le.Entry
		if e.Kind != api.EntryKind_RELEASE {
			continue
		}
		if !bytes.Equal(e.ClientPeerId, []byte(id)) {
			t.Fatalf("%s logged a release for another device than the agent's", le.Node)
		}
		if len(e.Refusals) == 0 {
			released++
		}
	}
	// Each get was released by at least the threshold of nodes (the
	// client stops waiting then; the others may release too).
	if need := 3 * gets; released < need {
		t.Fatalf("%d release entries at the nodes for %d gets, want at least %d", released, gets, need)
	}
}
