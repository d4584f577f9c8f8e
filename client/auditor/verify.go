package auditor

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/internal/atomicfile"
)

// callTimeout bounds one dial, and one request and its answer.
const callTimeout = 20 * time.Second

// maxEntryProblems caps the entry problems listed per node: a log rewritten
// wholesale would otherwise give one per entry.
const maxEntryProblems = 20

// Options say what Verify checks besides each node's checkpoint and its
// consistency with the recorded one.
type Options struct {
	// Full reads every entry of every node's log with the auditor's key:
	// the root recomputed from the entries must be the checkpoint's, every
	// entry must decode, and every release entry must be one its device
	// signed (see the package doc).
	Full bool
	// User, when set, is what a user's vault holds (ReadVault): each
	// checkpoint it holds of a node must verify with the node's pinned key
	// and be of one history with the checkpoint the node serves the
	// auditor; with Full, an entry that refuses a request its device
	// signed, whose receipt the user keeps, is a FalseRefusal.
	User *UserView
	// Accept names nodes whose restore from a backup the auditor accepts:
	// when such a node's checkpoint no longer extends the recorded one and
	// its log holds a restore entry that explains it, its checkpoint is
	// recorded in place of the old one, which is kept in <node>.restores
	// (see AcceptedRestore). Verify reads every entry of such a node.
	Accept []string
	// Progress, when set, is called as entries of a node's log are read,
	// with the node's name, the entries read so far and the log's size;
	// from each node's own goroutine, so at once for several nodes.
	Progress func(node string, read, size int64)
}

// Verify checks the audit log of every node of network, in parallel, as the
// package doc and o describe, dialling each at its pinned peer ID with key
// as the auditor's identity. stateDir keeps the last checkpoint of each
// node that verified, one file <node name>.checkpoint per node (the signed
// note as the node served it), and the restores accepted, <node
// name>.restores; Verify makes the directory if needed.
//
// A node's checkpoint is recorded (replacing the older one) once it is
// signed by the node and consistent with the recorded one, whatever the
// full check then finds: it is what the node committed to, and a later
// rollback is measured against it.
//
// What each node failed is in the Report; the error is for what stops the
// audit as a whole (a bad network file, a node to accept that the network
// file does not name, no state directory, no host).
func Verify(ctx context.Context, network *client.Network, key crypto.PrivKey, stateDir string, o Options) (*Report, error) {
	if err := checkNetwork(network); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	accept := map[string]bool{}
	for _, name := range o.Accept {
		if !slices.ContainsFunc(network.Nodes, func(c api.Card) bool { return c.Name == name }) {
			return nil, fmt.Errorf("verify: accept a restore of %q: %w", name, ErrNoSuchNode)
		}
		accept[name] = true
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("verify: make the state directory: %w", err)
	}
	h, err := client.NewHost(key)
	if err != nil {
		return nil, fmt.Errorf("verify: make libp2p host: %w", err)
	}
	defer h.Close()
	rep := &Report{Nodes: make([]NodeReport, len(network.Nodes)), UserSkipped: unknownNodes(o.User, network)}
	var wg sync.WaitGroup
	for i := range network.Nodes {
		a := &nodeAudit{h: h, card: network.Nodes[i], stateDir: stateDir, rep: &rep.Nodes[i], accept: accept[network.Nodes[i].Name], progress: o.Progress}
		var skipped string
		a.userCheckpoints, a.refused, a.userRestores, skipped = userOf(o.User, a.card)
		if skipped != "" {
			rep.UserSkipped = append(rep.UserSkipped, skipped)
		}
		wg.Go(func() { a.run(ctx, o.Full) })
	}
	wg.Wait()
	return rep, nil
}

// nodeAudit is the audit of one node.
type nodeAudit struct {
	h        host.Host
	card     api.Card
	stateDir string
	rep      *NodeReport
	progress func(node string, read, size int64) // Options.Progress
	accept   bool                                // accept a restore (Options.Accept)
	// userCheckpoints are the node's checkpoints in the user's vault;
	// refused the entries of the user's evidence receipts, by index;
	// userRestores the node's restores that the user's client accepted.
	userCheckpoints []UserCheckpoint
	refused         map[uint64][]byte
	userRestores    []vault.Restore

	id           peer.ID
	origin       string
	pub          ed25519.PublicKey
	entryProblem int
}

func (a *nodeAudit) fail(k Kind, index int64, format string, args ...any) {
	a.rep.Problems = append(a.rep.Problems, Problem{Kind: k, Index: index, Message: fmt.Sprintf(format, args...)})
}

// statePath is the node's file in the state directory with this suffix.
func (a *nodeAudit) statePath(suffix string) string {
	return filepath.Join(a.stateDir, a.card.Name+suffix)
}

func (a *nodeAudit) run(ctx context.Context, full bool) {
	*a.rep = NodeReport{Node: a.card.Name, PeerID: a.card.PeerID, Full: full}
	cp, signed, ok := a.head(ctx)
	if !ok {
		return
	}
	a.rep.Size = cp.Size

	// The entries are worth checking even when the checkpoint is not
	// consistent with the recorded one: they may say what happened.
	a.checkState(ctx, cp, signed)
	a.checkUser(ctx, cp, a.userCheckpoints)
	if full {
		a.checkEntries(ctx, cp)
	}
}

// head dials the node at its pinned peer ID and returns its checkpoint,
// verified with the pinned key, and the signed note. On failure it reports
// the problem and returns false.
func (a *nodeAudit) head(ctx context.Context) (api.Checkpoint, []byte, bool) {
	info, err := a.card.AddrInfo()
	if err != nil {
		a.fail(Unreachable, -1, "%v", err)
		return api.Checkpoint{}, nil, false
	}
	a.id, a.origin = info.ID, api.LogOrigin(a.card.Name)
	pk, err := a.id.ExtractPublicKey()
	var raw []byte
	if err == nil && pk.Type() == crypto.Ed25519 {
		raw, err = pk.Raw()
	}
	if err != nil || len(raw) != ed25519.PublicKeySize {
		a.fail(BadCheckpoint, -1, "its pinned peer ID %s holds no Ed25519 key", a.id)
		return api.Checkpoint{}, nil, false
	}
	a.pub = ed25519.PublicKey(raw)

	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	err = a.h.Connect(cctx, info)
	cancel()
	var mismatch sec.ErrPeerIDMismatch
	switch {
	case errors.As(err, &mismatch):
		a.fail(Unreachable, -1, "unreachable: the node presented another key than the network file pins (it is %s)", mismatch.Actual)
		return api.Checkpoint{}, nil, false
	case err != nil:
		a.fail(Unreachable, -1, "unreachable: %v", client.DialCause(err))
		return api.Checkpoint{}, nil, false
	}

	var cr api.CheckpointResponse
	if err := a.call(ctx, api.ProtocolCheckpoint, &api.CheckpointRequest{}, &cr); err != nil {
		a.fail(Unreachable, -1, "unreachable: checkpoint: %v", err)
		return api.Checkpoint{}, nil, false
	}
	if err := api.FromProto(cr.Error); err != nil {
		a.fail(Unreachable, -1, "it refused its checkpoint: %v", err)
		return api.Checkpoint{}, nil, false
	}
	cp, err := api.OpenCheckpoint(cr.Checkpoint, a.origin, a.pub)
	if err != nil {
		a.fail(BadCheckpoint, -1, "bad checkpoint signature or format: %v", err)
		return api.Checkpoint{}, nil, false
	}
	return cp, cr.Checkpoint, true
}

// checkState compares cp with the checkpoint recorded for the node and
// records cp if it is consistent, or if the auditor accepts a restore that
// explains why it is not (acceptRestore).
func (a *nodeAudit) checkState(ctx context.Context, cp api.Checkpoint, signed []byte) {
	path := a.statePath(".checkpoint")
	b, err := readCapped(path, api.MaxCheckpointSize)
	if errors.Is(err, fs.ErrNotExist) {
		a.rep.First = true
		a.record(path, signed)
		return
	}
	if err != nil {
		a.fail(StateError, -1, "read the recorded checkpoint: %v", err)
		return
	}
	old, err := api.OpenCheckpoint(b, a.origin, a.pub)
	if err != nil {
		a.fail(StateError, -1, "the recorded checkpoint %s does not verify with the node's pinned key: %v", path, err)
		return
	}
	if a.rep.Restores, err = a.loadRestores(); err != nil {
		a.fail(StateError, -1, "read the accepted restores: %v", err)
		return
	}
	why := a.compare(ctx, old, cp)
	switch {
	case why == nil:
		a.record(path, signed)
	case why.Kind == Unreachable || !a.accept:
		a.rep.Problems = append(a.rep.Problems, *why)
	default:
		a.acceptRestore(ctx, old, b, cp, signed, *why)
	}
}

// compare says how cp does not extend the recorded checkpoint old (nil
// when it does).
func (a *nodeAudit) compare(ctx context.Context, old, cp api.Checkpoint) *Problem {
	problem := func(k Kind, format string, args ...any) *Problem {
		return &Problem{Kind: k, Index: -1, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case cp.Size < old.Size:
		return problem(Rollback, "rollback from size %d to %d", old.Size, cp.Size)
	case cp.Size == old.Size && cp.Root != old.Root:
		return problem(Fork, "fork at size %d: its root is not the recorded one", cp.Size)
	case cp.Size == old.Size:
		return nil
	}
	err := a.extends(ctx, old, cp)
	switch {
	case errors.Is(err, errNoAnswer):
		return problem(Unreachable, "unreachable: consistency proof: %v", err)
	case err != nil:
		return problem(Inconsistent, "inconsistent: size %d does not extend the recorded size %d: %v", cp.Size, old.Size, err)
	}
	return nil
}

// errNoAnswer is extends's error when the node could not be asked.
var errNoAnswer = errors.New("no answer")

// extends asks the node for a consistency proof from old to cur (old the
// smaller) and checks it. It reports errNoAnswer when the request failed.
func (a *nodeAudit) extends(ctx context.Context, old, cur api.Checkpoint) error {
	var pr api.ProofResponse
	req := &api.ProofRequest{Query: &api.ProofRequest_Consistency{Consistency: &api.ConsistencyQuery{OldSize: uint64(old.Size), NewSize: uint64(cur.Size)}}}
	if err := a.call(ctx, api.ProtocolProof, req, &pr); err != nil {
		return fmt.Errorf("%w: %w", errNoAnswer, err)
	}
	if err := api.FromProto(pr.Error); err != nil {
		return fmt.Errorf("it refused a consistency proof from size %d to %d: %w", old.Size, cur.Size, err)
	}
	proof, err := api.ProofHashes(pr.Hashes)
	if err == nil {
		err = api.VerifyConsistency(proof, old.Size, old.Root, cur.Size, cur.Root)
	}
	return err
}

// record writes the signed checkpoint to path atomically: a crash leaves
// the old record or the new one, never a mix.
func (a *nodeAudit) record(path string, signed []byte) bool {
	if err := atomicfile.Write(path, "", signed); err != nil {
		a.fail(StateError, -1, "record the checkpoint: %v", err)
		return false
	}
	return true
}

// checkEntries reads every entry of the tree of cp, recomputes its root and
// checks each entry.
func (a *nodeAudit) checkEntries(ctx context.Context, cp api.Checkpoint) {
	a.readEntries(ctx, cp, a.checkEntry)
	if n := a.entryProblem - maxEntryProblems; n > 0 {
		a.fail(MalformedEntry, -1, "and %d more entry problems", n)
	}
}

// readEntries reads every entry of the tree of cp, in order, passes each to
// fn, and checks that the root recomputed from them is cp's. It reports
// whether every entry was read and the root matched.
func (a *nodeAudit) readEntries(ctx context.Context, cp api.Checkpoint, fn func(index int64, b []byte)) bool {
	var tree api.TreeHasher
	for start := int64(0); start < cp.Size; {
		var er api.EntriesResponse
		req := &api.EntriesRequest{Start: uint64(start), End: uint64(cp.Size)}
		if err := a.call(ctx, api.ProtocolEntries, req, &er); err != nil {
			a.fail(Unreachable, -1, "unreachable: entries from %d: %v", start, err)
			return false
		}
		if err := api.FromProto(er.Error); err != nil {
			if errors.Is(err, api.ErrUnauthenticated) {
				a.fail(NotAuditor, -1, "it refuses the auditor %s its entries: its operator must list that peer ID under auditors in node.yaml", a.h.ID())
			} else {
				a.fail(Unreachable, -1, "it refused entries from %d: %v", start, err)
			}
			return false
		}
		if er.Start != uint64(start) || len(er.Entries) == 0 || er.Next != er.Start+uint64(len(er.Entries)) || er.Next > uint64(cp.Size) {
			a.fail(BadAnswer, -1, "bad answer: entries from %d: %d entries for [%d, %d)", start, len(er.Entries), er.Start, er.Next)
			return false
		}
		for i, b := range er.Entries {
			fn(start+int64(i), b)
			tree.Add(b)
		}
		start = int64(er.Next)
		if a.progress != nil {
			a.progress(a.card.Name, start, cp.Size)
		}
	}
	if root := tree.Root(); root != cp.Root {
		a.fail(RootMismatch, -1, "root mismatch: the root of its %d entries is not the one its checkpoint signs (an entry was changed, removed or moved)", cp.Size)
		return false
	}
	return true
}

func (a *nodeAudit) checkEntry(index int64, b []byte) {
	var k Kind
	var msg string
	e, err := api.ParseEntry(b)
	switch {
	case err != nil:
		k, msg = MalformedEntry, fmt.Sprintf("entry %d malformed: %v", index, err)
	case e.Kind == api.EntryKind_RELEASE:
		// Every release entry that names units has its device signature
		// checked, whatever its outcome; a refusal its device did not
		// sign is a bad request the node rightly refused. A request
		// refused whole is logged without units or signature.
		err := errNoUnits
		if e.Outcome == api.Code_OK || len(e.Units) > 0 {
			err = e.VerifyDevice([]byte(a.id))
		}
		r, held := a.refused[uint64(index)]
		if err != nil && e.Outcome == api.Code_OK {
			k, msg = UnsignedRelease, fmt.Sprintf("release entry %d not signed by its device: %v", index, err)
		} else if why := refusalLie(e, "a request", held && bytes.Equal(r, b), err == nil); why != "" {
			k, msg = FalseRefusal, fmt.Sprintf("entry %d %s", index, why)
		}
	}
	if k == 0 {
		return
	}
	if a.entryProblem++; a.entryProblem <= maxEntryProblems {
		a.fail(k, index, "%s", msg)
	}
}

// errNoUnits: a release entry that names no units has no signature to
// check.
var errNoUnits = errors.New("no units, so no signature")

// refusalLie says why the release entry e, a refusal of request (what it
// asked for, in words), hides a release, or "" when nothing does: the user
// keeps the receipt the node answered the request with as evidence (held;
// see evidence), or e refuses it for a bad device signature while the
// signature verifies (signed).
func refusalLie(e *api.Entry, request string, held, signed bool) string {
	switch {
	case held && signed:
		return fmt.Sprintf("refuses (%s) %s that its device signed, yet the vault holds the receipt the node answered it with: it may have released the shares and logged a refusal", refusalOf(e), request)
	case held:
		return fmt.Sprintf("refuses (%s) %s, yet the vault holds the receipt the node answered it with: it may have released the shares and logged a refusal", refusalOf(e), request)
	case signed && e.Outcome == api.Code_UNAUTHENTICATED:
		return fmt.Sprintf("refuses %s for a bad device signature, yet the signature verifies: the node wrote or changed it", request)
	}
	return ""
}

// refusalOf says what e refuses: the whole request's code, or how many of
// its units.
func refusalOf(e *api.Entry) string {
	if e.Outcome != api.Code_OK {
		return e.Outcome.String()
	}
	return fmt.Sprintf("%d of %d units", len(e.Refusals), len(e.Units))
}

// call runs one request and its answer on a new stream to the node.
func (a *nodeAudit) call(ctx context.Context, p protocol.ID, req, resp proto.Message) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s, err := a.h.NewStream(ctx, a.id, p)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	_ = s.SetDeadline(time.Now().Add(callTimeout))
	return api.Exchange(ctx, s, req, resp)
}
