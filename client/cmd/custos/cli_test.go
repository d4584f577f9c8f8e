package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/rogpeppe/go-internal/testscript"
	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// TestMain makes the test binary double as custos inside the scripts of
// testdata/script, and removes the custosd binary the tests built.
func TestMain(m *testing.M) {
	testscript.Main(removeBinary{m}, map[string]func(){"custos": main})
}

type removeBinary struct{ m *testing.M }

func (r removeBinary) Run() int {
	code := r.m.Run()
	nodetest.RemoveBinary()
	return code
}

// TestCLI runs the scripts in testdata/script. Besides testscript's own,
// they have these commands:
//
//	exitcode CODE PROG ARGS...  run PROG (with the script's stdin) and fail
//	                            unless it exits CODE (killed: unless SIGKILL
//	                            ended it); stdout and stderr are kept for
//	                            the stdout and stderr commands
//	devnet N K [LIAR...]        start N custosd processes n1..nN (invite
//	                            enrollment, TCP on 127.0.0.1) and write their
//	                            cards to cards/nI.card and the network file,
//	                            threshold K, to network.yaml; a LIAR nI alters
//	                            every share it releases, and nI=FAULT lies as
//	                            CUSTOS_FAULT=FAULT says (bad-proof,
//	                            bad-evaluation: node/fault_custosfault.go)
//	auditnet N K KEYFILE        devnet N K, with the peer ID of the auditor
//	                            key KEYFILE under every node's auditors
//	fakecards N                 write N cards of nodes that do not run to
//	                            cards/nI.card
//	invite USER                 set $TOKEN_nI to an invite token for USER
//	                            from every node of the devnet
//	killnode NODE...            kill devnet nodes with SIGKILL
//	lockuser USER NODE...       lock USER's account at the nodes, as their
//	                            operators would (custosd lock)
//	logsizes                    print each running node's log size: "nI log=N"
//	sleep DURATION              wait, as for a node's login backoff
//	unitid VAULT LABEL VAR      set $VAR to the unit ID (hex) of the record
//	                            LABEL in the vault file VAULT
//	nodes                       print each running node's shares and users:
//	                            "nI shares=S" and "nI USER failures=F locked=L"
//
// Every node is killed when its script ends, also when it fails. A node
// answers a device's login challenges within its auth.logins bucket (30,
// then one per 2 s), and every custos command that unlocks logs in once: a
// script keeps to fewer.
func TestCLI(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			tb, ok := env.T().(testing.TB)
			if !ok {
				return errors.New("testscript's T is not a testing.TB")
			}
			env.Values[netKey{}] = &devnet{t: tb, nodes: map[string]*nodetest.Process{}}
			env.Setenv("CUSTOS_VAULT", filepath.Join(env.WorkDir, "vault.json"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":  cmdExitCode,
			"devnet":    cmdDevnet,
			"auditnet":  cmdAuditNet,
			"fakecards": cmdFakeCards,
			"invite":    cmdInvite,
			"killnode":  cmdKill,
			"lockuser":  cmdLockUser,
			"logsizes":  cmdLogSizes,
			"nodes":     cmdNodes,
			"damage":    cmdDamage,
			"sleep":     cmdSleep,
			"unitid":    cmdUnitID,
		},
	})
}

type netKey struct{}

// devnet is the nodes one script started.
type devnet struct {
	t     testing.TB
	names []string
	nodes map[string]*nodetest.Process
}

func netOf(ts *testscript.TestScript) *devnet { return ts.Value(netKey{}).(*devnet) }

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode CODE PROG ARGS...")
	}
	killed := args[0] == "killed"
	want, err := strconv.Atoi(args[0])
	if err != nil && !killed {
		ts.Fatalf("exitcode: %q is not an exit code", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && killed:
		if ee.ProcessState.String() != "signal: killed" {
			ts.Fatalf("%s ended with %s, want SIGKILL", args[1], ee.ProcessState)
		}
		return
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if killed || got != want {
		ts.Fatalf("%s exited %d, want %s", args[1], got, args[0])
	}
}

// unlimited raises the nodes' rate limits and shortens the login backoff,
// so that scripts run quickly.
func unlimited(c *config.Config) {
	c.Limits.UnitReleases = config.Bucket{Burst: 1 << 20, Every: time.Millisecond}
	c.Limits.UserReleases = config.Bucket{Burst: 1 << 20, Every: time.Millisecond}
	c.Auth.BackoffBase = 10 * time.Millisecond
	c.Auth.BackoffMax = 100 * time.Millisecond
}

func cmdDevnet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: devnet N K [LIAR...]")
	}
	n, err1 := strconv.Atoi(args[0])
	k, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		ts.Fatalf("devnet: N and K are numbers")
	}
	startDevnet(ts, n, k, args[2:])
}

func cmdAuditNet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: auditnet N K KEYFILE")
	}
	n, err1 := strconv.Atoi(args[0])
	k, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		ts.Fatalf("auditnet: N and K are numbers")
	}
	key, err := auditor.LoadKey(ts.MkAbs(args[2]))
	ts.Check(err)
	id, err := peer.IDFromPrivateKey(key)
	ts.Check(err)
	startDevnet(ts, n, k, nil, func(c *config.Config) { c.Auditors = []string{id.String()} })
}

// startDevnet starts the nodes of devnet and auditnet.
func startDevnet(ts *testscript.TestScript, n, k int, liars []string, opts ...nodetest.Option) {
	d := netOf(ts)
	if len(d.names) > 0 {
		ts.Fatalf("devnet: a script starts one network")
	}
	ts.Check(os.MkdirAll(ts.MkAbs("cards"), 0o755))
	var cards []*api.Card
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("n%d", i)
		// TCP alone: a killed node then refuses a dial at once, where a
		// QUIC dial would wait out the client's timeout.
		var env []string
		if slices.Contains(liars, name) {
			env = []string{"CUSTOS_FAULT=alter-shares"}
		}
		for _, l := range liars {
			if liar, fault, ok := strings.Cut(l, "="); ok && liar == name {
				env = []string{"CUSTOS_FAULT=" + fault}
			}
		}
		// Every custosd of this test binary is built with the custosfault
		// tag, which does nothing unless CUSTOS_FAULT is set.
		nodetest.Binary(d.t, "custosfault")
		p := nodetest.StartProcessEnv(d.t, name, env, append([]nodetest.Option{nodetest.Invite, unlimited, nodetest.Listen("/ip4/127.0.0.1/tcp/0")}, opts...)...)
		d.names = append(d.names, name)
		d.nodes[name] = p
		card, err := p.Admin().Card(context.Background())
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(filepath.Join("cards", name+".card")), card.Marshal(), 0o644))
		cards = append(cards, card)
	}
	nw, err := client.NewNetwork(k, cards)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs("network.yaml"), nw.Marshal(), 0o644))
}

func cmdFakeCards(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fakecards N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	ts.Check(os.MkdirAll(ts.MkAbs("cards"), 0o755))
	cards, err := fakeCards(n)
	ts.Check(err)
	for _, card := range cards {
		ts.Check(os.WriteFile(ts.MkAbs(filepath.Join("cards", card.Name+".card")), card.Marshal(), 0o644))
	}
}

// fakeCards makes the cards of n nodes n1..nN that do not run.
func fakeCards(n int) ([]*api.Card, error) {
	var cards []*api.Card
	for i := 1; i <= n; i++ {
		_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			return nil, err
		}
		cards = append(cards, &api.Card{Name: fmt.Sprintf("n%d", i), PeerID: id.String(), Addrs: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 40000+i)}})
	}
	return cards, nil
}

// fakeNetwork is a network of n nodes that do not run, threshold k.
func fakeNetwork(t *testing.T, n, k int) *client.Network {
	t.Helper()
	cards, err := fakeCards(n)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := client.NewNetwork(k, cards)
	if err != nil {
		t.Fatal(err)
	}
	return nw
}

func cmdInvite(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: invite USER")
	}
	d := netOf(ts)
	for _, name := range d.names {
		inv, err := d.nodes[name].Admin().Invite(context.Background(), args[0], 0)
		ts.Check(err)
		ts.Setenv("TOKEN_"+name, inv.Token)
	}
}

func cmdKill(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: killnode NODE...")
	}
	d := netOf(ts)
	for _, name := range args {
		p, ok := d.nodes[name]
		if !ok {
			ts.Fatalf("killnode: no node %s", name)
		}
		p.Kill(d.t)
	}
}

func cmdLockUser(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: lockuser USER NODE...")
	}
	d := netOf(ts)
	for _, name := range args[1:] {
		p, ok := d.nodes[name]
		if !ok {
			ts.Fatalf("lockuser: no node %s", name)
		}
		ts.Check(p.Admin().Lock(context.Background(), args[0]))
	}
}

func cmdLogSizes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: logsizes")
	}
	d := netOf(ts)
	for _, name := range d.names {
		if p := d.nodes[name]; !p.Exited() {
			st, err := p.Admin().Status(context.Background())
			ts.Check(err)
			fmt.Fprintf(ts.Stdout(), "%s log=%d\n", name, st.LogSize)
		}
	}
}

func cmdNodes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: nodes")
	}
	d := netOf(ts)
	ctx := context.Background()
	for _, name := range d.names {
		p := d.nodes[name]
		if p.Exited() {
			continue
		}
		st, err := p.Admin().Status(ctx)
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%s shares=%d\n", name, st.Shares)
		users, err := p.Admin().Users(ctx)
		ts.Check(err)
		for _, u := range users {
			fmt.Fprintf(ts.Stdout(), "%s %s failures=%d locked=%v\n", name, u.User, u.Failures, u.Locked)
		}
	}
}

func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// cmdDamage changes a record's key commitment in the vault, as a person
// editing (or a disk damaging) the file would: it flips a bit of the
// commitment in the record's descriptor (docs/vault.md), after the unit
// ID, version, threshold, node count and the nodes' entries.
func cmdDamage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: damage VAULT LABEL")
	}
	db, err := bolt.Open(ts.MkAbs(args[0]), 0o600, nil)
	ts.Check(err)
	defer db.Close()
	ts.Check(db.Update(func(tx *bolt.Tx) error {
		units := tx.Bucket([]byte("units"))
		desc := bytes.Clone(units.Get([]byte(args[1])))
		if len(desc) < 26 {
			return fmt.Errorf("damage: no record %q in %s", args[1], args[0])
		}
		desc[26+int(desc[25])*37] ^= 1
		return units.Put([]byte(args[1]), desc)
	}))
}

func cmdUnitID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: unitid VAULT LABEL VAR")
	}
	c, err := client.Open(ts.MkAbs(args[0]), client.Options{})
	ts.Check(err)
	defer c.Close()
	units, err := c.List(args[1])
	ts.Check(err)
	for _, u := range units {
		if u.Label == args[1] {
			ts.Setenv(args[2], u.ID.String())
			return
		}
	}
	ts.Fatalf("unitid: no record %q in %s", args[1], args[0])
}
