package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// These tests run real custosd processes on 127.0.0.1 and hold the node to
// the rules of docs/operating.md that only a process can show: what survives a
// restart, a SIGTERM and a kill -9.

func TestProcessLockoutAfterTenFailedLoginsSurvivesRestart(t *testing.T) {
	t.Parallel()
	p := nodetest.StartProcess(t, "n1", fastBackoff)
	d, id := enroll(t, p, "alice")

	// A device may start 10 logins a minute, so the test spends them on the
	// wrong passwords.
	for i := 1; i <= 10; i++ {
		time.Sleep(5 * time.Millisecond) // past the backoff of the last failure
		err := loginWith(d, id, wrongKey())
		want := api.ErrUnauthenticated
		if i == 10 {
			want = api.ErrLocked
		}
		if !nodetest.IsCode(err, want.Code) {
			t.Fatalf("wrong password %d: got %v, want %v", i, err, want.Code)
		}
	}
	stop(t, p)
	p.Start(t)
	id = connect(t, d, p)
	if err := loginWith(d, id, d.AuthKey(id)); !nodetest.IsCode(err, api.Code_LOCKED) {
		t.Fatalf("right password after a restart: got %v, want LOCKED (the lock must survive restarts)", err)
	}
	users, err := p.Admin().Users(context.Background())
	if err != nil || len(users) != 1 || !users[0].Locked {
		t.Fatalf("users after the restart: %+v, %v; want alice locked", users, err)
	}

	if out, stderr, code := runCustosd(t, "unlock", "--user", "alice", "--config", p.Path); code != 0 {
		t.Fatalf("custosd unlock: exit %d\n%s%s", code, out, stderr)
	}
	if err := loginWith(d, id, d.AuthKey(id)); err != nil {
		t.Fatalf("right password after custosd unlock: %v", err)
	}
}

func TestProcessRateLimitGrantsExactlyBurstUnderRace(t *testing.T) {
	t.Parallel()
	const burst, requests = 7, 100
	p := nodetest.StartProcess(t, "n1", func(c *config.Config) {
		c.Limits.UnitReleases = config.Bucket{Burst: burst, Every: time.Hour}
		c.Limits.UserReleases = config.Bucket{Burst: 100000, Every: time.Millisecond}
		c.Limits.MaxStreamsPerPeer = 256
	})
	d, id := enroll(t, p, "alice")
	login(t, d, id)
	unit, share := put(t, d, id)

	type result struct {
		req  *api.ReleaseRequest
		resp *api.ReleaseResponse
		err  error
	}
	results := make([]result, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var retried atomic.Int64
	for i := range results {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for {
				req, resp, err := release(ctx, d, id, unit)
				// libp2p's resource manager refuses a stream before the
				// node sees it, so that refusal is no decision: ask again.
				var se *network.StreamError
				if errors.As(err, &se) && se.ErrorCode == network.StreamResourceLimitExceeded && ctx.Err() == nil {
					retried.Add(1)
					time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
					continue
				}
				results[i] = result{req, resp, err}
				return
			}
		})
	}
	close(start)
	wg.Wait()
	if n := retried.Load(); n > 0 {
		t.Logf("%d streams were refused by the resource manager and asked again (limits.max_streams_per_peer is not applied per protocol)", n)
	}

	released, limited := 0, 0
	decisions := map[uint64]result{}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("request %d got no answer: %v", i, r.err)
		}
		if err := api.FromProto(r.resp.Error); err != nil {
			t.Fatalf("request %d refused as a whole: %v", i, err)
		}
		if len(r.resp.Shares) != 1 {
			t.Fatalf("request %d: %d shares in the answer, want 1", i, len(r.resp.Shares))
		}
		s := r.resp.Shares[0]
		switch err := api.FromProto(s.Error); {
		case err == nil:
			released++
			if !bytes.Equal(s.Share, share) {
				t.Errorf("request %d released another share than was put", i)
			}
		case nodetest.IsCode(err, api.Code_RATE_LIMITED):
			limited++
		default:
			t.Errorf("request %d: %v", i, err)
		}
		if _, dup := decisions[r.resp.LogIndex]; dup {
			t.Errorf("two answers name log entry %d", r.resp.LogIndex)
		}
		decisions[r.resp.LogIndex] = r
	}
	if released != burst || limited != requests-burst {
		t.Fatalf("released %d and refused %d with RATE_LIMITED; want %d and %d", released, limited, burst, requests-burst)
	}

	stop(t, p)
	o := openOffline(t, p)
	entries := o.entries(t)
	releases := 0
	for _, e := range entries {
		if e.Kind == api.EntryKind_RELEASE {
			releases++
		}
	}
	if releases != requests {
		t.Errorf("the log holds %d release entries for %d decisions", releases, requests)
	}
	for index, r := range decisions {
		if index >= uint64(len(entries)) {
			t.Errorf("log entry %d of a decision is beyond the log (%d entries)", index, len(entries))
			continue
		}
		e := entries[index]
		if e.Kind != api.EntryKind_RELEASE || !bytes.Equal(e.RequestNonce, r.req.Nonce) || !sameUnits(e.Units, r.req.Units) {
			t.Errorf("entry %d is %v, not the release decided there", index, e.Kind)
			continue
		}
		wasLimited := r.resp.Shares[0].Error != nil
		refusedInLog := len(e.Refusals) == 1 && e.Refusals[0].Code == api.Code_RATE_LIMITED && e.Outcome == api.Code_RATE_LIMITED
		if wasLimited != refusedInLog || (!wasLimited && (len(e.Refusals) != 0 || e.Outcome != api.Code_OK)) {
			t.Errorf("entry %d: refusals %v outcome %v, but the device was answered limited=%v", index, e.Refusals, e.Outcome, wasLimited)
		}
		if err := e.VerifyDevice([]byte(o.peerID)); err != nil {
			t.Errorf("entry %d: %v", index, err)
		}
	}
	o.checkLog(t, nil)
}

func TestProcessKillMidStreamLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	p := nodetest.StartProcess(t, "n1", noReleaseLimits)
	d, id := enroll(t, p, "alice")
	login(t, d, id)
	s := newStream(d, id)
	var cps []string
	for round := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		last := checkpoints(ctx, p)
		wg := s.run(ctx, 4)
		// Kill at a different moment each round.
		time.Sleep(time.Duration(150+round*170+rand.IntN(100)) * time.Millisecond)
		s.waitInFlight()
		p.Kill(t)
		cancel()
		wg.Wait()
		cp := last()
		if cp == "" {
			t.Fatalf("round %d: no checkpoint was fetched before the kill", round)
		}
		cps = append(cps, cp)

		p.Start(t)
		id = connect(t, d, p)
		s.id = id
		login(t, d, id)
		s.mu.Lock()
		t.Logf("round %d: %d puts and %d releases acknowledged so far, %d requests unanswered", round, len(s.puts), len(s.releases), s.failed)
		puts := len(s.puts)
		s.mu.Unlock()
		if puts == 0 {
			t.Fatalf("round %d: no put was acknowledged before the kill", round)
		}
		checkShares(t, d, id, s.puts)
	}
	stop(t, p)
	o := openOffline(t, p)
	s.checkEntries(t, o.entries(t), o.peerID)
	o.checkLog(t, cps)
}

func TestProcessSIGTERMWithRequestsInFlightLosesNothing(t *testing.T) {
	t.Parallel()
	p := nodetest.StartProcess(t, "n1", noReleaseLimits)
	d, id := enroll(t, p, "alice")
	login(t, d, id)
	s := newStream(d, id)
	ctx, cancel := context.WithCancel(context.Background())
	wg := s.run(ctx, 6)
	time.Sleep(400 * time.Millisecond)
	s.waitInFlight()
	stop(t, p) // fails the test unless custosd exits 0
	cancel()
	wg.Wait()
	t.Logf("%d puts and %d releases acknowledged, %d requests unanswered", len(s.puts), len(s.releases), s.failed)
	if len(s.puts) == 0 || len(s.releases) == 0 {
		t.Fatal("the stream got nothing acknowledged before the SIGTERM")
	}

	o := openOffline(t, p)
	s.checkEntries(t, o.entries(t), o.peerID)
	o.checkLog(t, nil)
	o.store.Close()

	p.Start(t)
	id = connect(t, d, p)
	login(t, d, id)
	checkShares(t, d, id, s.puts)
}

func TestProcessStartupErrorsAreOneClearLine(t *testing.T) {
	t.Parallel()
	// A node that has run once, so that its data directory exists and is
	// bound to its identity, and another node's keys to swap in.
	a := nodetest.StartProcess(t, "a")
	stop(t, a)
	other := t.TempDir() + "/b"
	if _, _, err := node.Init(node.InitOptions{Dir: other, Name: "b", Listen: []string{"/ip4/127.0.0.1/tcp/0"}}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		break_ func(t *testing.T, dir string) // spoils the node in dir
		want   string
	}{
		{"garbage node.yaml", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, node.ConfigFile), "\x00\x01garbage: [unclosed\n\x7f\xfe", 0o600)
		}, "node.yaml"},
		{"unknown setting in node.yaml", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, node.ConfigFile), "\nmax_shares: 10\n")
		}, "max_shares: unknown setting"},
		{"missing identity key", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "identity.key")); err != nil {
				t.Fatal(err)
			}
		}, "identity.key"},
		{"identity key readable by others", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "identity.key"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "chmod 600"},
		{"storage key credential outside systemd", func(t *testing.T, dir string) {
			setStorageKey(t, filepath.Join(dir, node.ConfigFile), "{credential: custos-storage-key}")
		}, "$CREDENTIALS_DIRECTORY is not set"},
		{"storage key command that fails", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "fail.sh"), "#!/bin/sh\necho 'kms: access denied' >&2\nexit 3\n", 0o700)
			setStorageKey(t, filepath.Join(dir, node.ConfigFile), "{command: [./fail.sh]}")
		}, "command ./fail.sh: failed (exit status 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := initTestNode(t)
			tt.break_(t, dir)
			checkStartupError(t, filepath.Join(dir, node.ConfigFile), tt.want)
		})
	}

	// The swaps spoil node a in place and put it right afterwards.
	swaps := []struct {
		name, file, want string
	}{
		{"data directory of another node (identity keys swapped)", "identity.key", "belongs to node"},
		{"wrong storage key", "storage.key", "storage key"},
	}
	for _, tt := range swaps {
		t.Run(tt.name, func(t *testing.T) {
			mine := filepath.Join(a.Config.Dir, tt.file)
			saved, err := os.ReadFile(mine)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := os.ReadFile(filepath.Join(other, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, mine, string(theirs), 0o600)
			defer writeFile(t, mine, string(saved), 0o600)
			checkStartupError(t, a.Path, tt.want)
		})
	}
	// Put right, node a starts again: the refusals changed nothing.
	a.Start(t)
	stop(t, a)
}

// setStorageKey rewrites the storage_key section of the node.yaml at path
// to source, a YAML flow mapping.
func setStorageKey(t *testing.T, path, source string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?m)^storage_key:.*\n(?:  .*\n)*`)
	if !section.Match(b) {
		t.Fatalf("%s has no storage_key section", path)
	}
	writeFile(t, path, section.ReplaceAllLiteralString(string(b), "storage_key: "+source+"\n"), 0o600)
}

// TestProcessStartsWithItsStorageKeyOffTheDisk moves a node's storage key
// off its disk, into a credentials directory as systemd makes one and then
// behind a command, and checks that the node opens the same store.
func TestProcessStartsWithItsStorageKeyOffTheDisk(t *testing.T) {
	t.Parallel()
	p := nodetest.StartProcess(t, "n1")
	d, id := enroll(t, p, "alice")
	login(t, d, id)
	units := map[string]held{}
	for range 3 {
		u, sh := put(t, d, id)
		units[string(u.UnitId)] = held{unit: u, share: sh}
	}
	stop(t, p)

	keyFile := p.Config.StorageKey.File
	body, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	creds, kms := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(creds, "custos-storage-key"), string(body), 0o400)
	writeFile(t, filepath.Join(kms, "sealed.key"), string(body), 0o600) // stands for a KMS's ciphertext
	writeFile(t, filepath.Join(kms, "unseal"), "#!/bin/sh\nexec cat \"$1\"\n", 0o700)
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	sources := []struct {
		name, yaml string
		env        []string
	}{
		{"credential", "{credential: custos-storage-key}", []string{"CREDENTIALS_DIRECTORY=" + creds}},
		{"command", fmt.Sprintf("{command: [%s, %s]}", filepath.Join(kms, "unseal"), filepath.Join(kms, "sealed.key")), nil},
	}
	for _, src := range sources {
		setStorageKey(t, p.Path, src.yaml)
		p.StartEnv(t, src.env)
		id = connect(t, d, p)
		login(t, d, id)
		checkShares(t, d, id, units)
		u, sh := put(t, d, id)
		units[string(u.UnitId)] = held{unit: u, share: sh}
		stop(t, p)
	}
	key := strings.TrimSpace(strings.SplitN(string(body), "\n", 2)[1])
	if strings.Contains(p.Log(), key[:16]) {
		t.Error("the node's log shows the storage key")
	}
}

// initTestNode makes a node directory that listens on 127.0.0.1 only.
func initTestNode(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "n")
	path, _, err := node.Init(node.InitOptions{Dir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "\nhttp: 127.0.0.1:9464\n", "\nhttp: 127.0.0.1:0\n", 1)
	if cfg == string(b) {
		t.Fatal("node.yaml has no http: 127.0.0.1:9464 line to change")
	}
	writeFile(t, path, cfg, 0o600)
	return dir
}

// checkStartupError runs custosd on config and checks that it refuses to
// start with exit code 1 and one line of error (besides log records) that
// holds want, and no stack trace.
func checkStartupError(t *testing.T, config, want string) {
	t.Helper()
	stdout, stderr, code := runCustosd(t, "run", "--config", config)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
		t.Errorf("custosd printed a stack trace:\n%s", crashReport(stderr))
		return
	}
	lines := errorLines(stderr)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "custosd: error: ") || !strings.Contains(lines[0], want) {
		t.Errorf("stderr: want one line \"custosd: error: ...%s...\", got:\n%s", want, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout: %q, want nothing", stdout)
	}
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func TestProcessRestoreBringsTheBackupBackAndLogsTheRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := nodetest.StartProcess(t, "n1")
	d, id := enroll(t, p, "alice")
	login(t, d, id)
	units := map[string]held{}
	for range 5 {
		u, sh := put(t, d, id)
		units[string(u.UnitId)] = held{unit: u, share: sh}
	}
	checkShares(t, d, id, units)

	backup := filepath.Join(t.TempDir(), "n1.age")
	if out, stderr, code := runCustosd(t, "backup", "--out", backup, "--config", p.Path); code != 0 {
		t.Fatalf("custosd backup: exit %d\n%s%s", code, out, stderr)
	}
	atBackup, err := p.Admin().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Put after the backup: the restore rolls these back.
	later, _ := put(t, d, id)
	before, err := p.Admin().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop(t, p)

	// The data directory holds the store: restore refuses to touch it
	// unless told to replace it.
	_, stderr, code := runCustosd(t, "restore", "--in", backup, "--config", p.Path)
	if code != 1 || !strings.Contains(stderr, "not empty; add --replace") {
		t.Errorf("restore into the live data directory: exit %d, want 1 and \"not empty; add --replace\":\n%s", code, stderr)
	}
	// Another node's storage key does not open the backup.
	other := initTestNode(t)
	_, stderr, code = runCustosd(t, "restore", "--in", backup, "--config", filepath.Join(other, node.ConfigFile))
	if code != 1 || !strings.Contains(stderr, "not a backup of this node") {
		t.Errorf("restore with another node's storage key: exit %d, want 1 and \"not a backup of this node\":\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(other, "data")); len(entries) > 0 {
		t.Errorf("a refused restore left %d files in the other node's data directory", len(entries))
	}

	out, stderr, code := runCustosd(t, "restore", "--in", backup, "--replace", "--config", p.Path)
	if code != 0 {
		t.Fatalf("custosd restore --replace: exit %d\n%s%s", code, out, stderr)
	}
	cp, err := api.OpenCheckpoint([]byte(before.Checkpoint), api.LogOrigin("n1"), nodeKey(t, p.Config))
	if err != nil || cp.Size != before.LogSize {
		t.Fatalf("the checkpoint before the restore: %+v, %v", cp, err)
	}
	entry := fmt.Sprintf("restore: backup of log size %d replaces a log of size %d with root %s",
		atBackup.LogSize, before.LogSize, base64.StdEncoding.EncodeToString(cp.Root[:]))
	if !strings.Contains(out, "\nlogged: "+entry+"\n") || !strings.Contains(out, "the store it replaced is in "+p.Config.Path(p.Config.DataDir)+".replaced-") {
		t.Errorf("custosd restore printed:\n%s\nwant the entry %q and where the old store went", out, entry)
	}

	p.Start(t)
	after, err := p.Admin().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.LogSize != atBackup.LogSize+1 || after.Accounts != atBackup.Accounts || after.Shares != atBackup.Shares {
		t.Errorf("after the restore: log %d, accounts %d, shares %d; at the backup: %d, %d, %d, and the restore adds one entry",
			after.LogSize, after.Accounts, after.Shares, atBackup.LogSize, atBackup.Accounts, atBackup.Shares)
	}
	id = connect(t, d, p)
	login(t, d, id)
	checkShares(t, d, id, units)
	// The share put after the backup is gone: the node says NOT_FOUND,
	// which clients take as a degraded record.
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, resp, err := release(ctx2, d, id, later)
	cancel()
	if err != nil || len(resp.Shares) != 1 || !nodetest.IsCode(api.FromProto(resp.Shares[0].Error), api.Code_NOT_FOUND) {
		t.Errorf("release of the unit put after the backup: %v, %v; want NOT_FOUND", resp, err)
	}
	stop(t, p)
	o := openOffline(t, p)
	o.checkLog(t, []string{atBackup.Checkpoint})
	if entries := o.entries(t); entries[atBackup.LogSize].Kind != api.EntryKind_ADMIN || entries[atBackup.LogSize].Admin != entry {
		t.Errorf("entry %d after the restore is %v, want the ADMIN entry %q", atBackup.LogSize, entries[atBackup.LogSize], entry)
	}
}

// nodeKey returns the public identity key of the node of cfg.
func nodeKey(t *testing.T, cfg *config.Config) ed25519.PublicKey {
	t.Helper()
	priv, err := node.LoadIdentity(cfg.Path(cfg.IdentityKey))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := priv.GetPublic().Raw()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A full disk is made for real: the node's data directory is on a 256 MiB
// tmpfs that the test mounts, and a ballast file takes every free byte. (A
// file size limit, RLIMIT_FSIZE, would not do: Badger writes through mmap
// into files it has already sized, which the limit never stops, so only
// its rarer file growths would fail.) The store takes writes only while
// about 105 MiB stay free for Badger's sparse logs, hence the size.
// Mounting needs root with CAP_SYS_ADMIN; elsewhere the test skips and
// says so.
func TestProcessDiskFullIsAnErrorNotACrash(t *testing.T) {
	t.Parallel()
	mnt := mountTmpfs(t, "256m")
	p := nodetest.StartProcess(t, "n1", func(c *config.Config) { c.DataDir = filepath.Join(mnt, "data") })
	d, id := enroll(t, p, "alice")
	login(t, d, id)
	acked := map[string]held{}
	for range 20 {
		u, sh := put(t, d, id)
		acked[string(u.UnitId)] = held{unit: u, share: sh}
	}

	ballast := filepath.Join(mnt, "ballast")
	fill(t, ballast)
	// The store trusts a good free-space check for a quarter of a second
	// (node/store/space.go); the ballast must outlast the last one.
	time.Sleep(time.Second)

	// Put until the node has refused 20 in a row; each refusal must be a
	// clear error from a node that is still running.
	outcomes := map[string]int{}
	for refused := 0; refused < 20 && len(acked) < 20000; {
		u, sh := nodetest.Unit(), nodetest.Share()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := d.Put(ctx, id, u, sh)
		cancel()
		var se *api.StatusError
		switch {
		case err == nil:
			acked[string(u.UnitId)] = held{unit: u, share: sh}
			refused = 0
			outcomes["OK"]++
			continue
		case errors.As(err, &se) && se.Code == api.Code_UNAVAILABLE:
			outcomes[se.Code.String()]++
		case errors.As(err, &se):
			outcomes[se.Code.String()]++
			t.Errorf("put on a full disk: got %v (%v), want UNAVAILABLE", se.Code, err)
		default:
			outcomes["no answer"]++
		}
		refused++
		if p.Exited() {
			break
		}
	}
	t.Logf("puts on a full disk: %v", outcomes)
	crashed := p.Exited()
	if crashed {
		t.Errorf("custosd died when its disk filled, where it should answer UNAVAILABLE:\n%s", crashReport(p.Log()))
	} else if log := p.Log(); strings.Contains(log, "panic") || strings.Contains(log, "fatal error") {
		t.Errorf("custosd's log shows a panic on a full disk:\n%s", crashReport(log))
	}
	if outcomes["UNAVAILABLE"] == 0 && !crashed {
		t.Errorf("no put was refused on a full disk (%d acknowledged); the disk never filled?", outcomes["OK"])
	}
	if outcomes["OK"] > 0 {
		t.Errorf("%d puts were acknowledged on a full disk, where the store keeps no room for them", outcomes["OK"])
	}

	// Space returns: the node (restarted if it died) has every acknowledged
	// share, takes puts again, and its log replays.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if !crashed {
		stop(t, p)
	}
	p.Start(t)
	id = connect(t, d, p)
	login(t, d, id)
	checkShares(t, d, id, acked)
	put(t, d, id)
	stop(t, p)
	openOffline(t, p).checkLog(t, nil)
}

// mountTmpfs mounts a tmpfs of size under the test's temporary directory
// and unmounts it when the test ends, or skips the test if it cannot.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size+",mode=0700"); err != nil {
		t.Skipf("skipped: cannot mount a small tmpfs to fill (%v); making a real full disk needs root with CAP_SYS_ADMIN", err)
	}
	// Registered after TempDir's own cleanup, so it runs before the
	// directory is removed; the process, started later, is killed first.
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// fill writes path until the file system has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		_, err := f.Write(buf)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	if free := st.Bavail * uint64(st.Bsize); free > 0 {
		t.Fatalf("%d bytes are still free after filling the disk", free)
	}
}

// crashReport keeps the start of a crash in a node's log: the fatal error
// and the first goroutine's stack.
func crashReport(log string) string {
	for _, mark := range []string{"fatal error", "panic", "SIGBUS", "SIGSEGV"} {
		if i := strings.Index(log, mark); i >= 0 {
			start := strings.LastIndex(log[:i], "\n") + 1
			return log[start:min(len(log), i+1500)]
		}
	}
	return log[max(0, len(log)-1500):]
}
