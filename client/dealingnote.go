package client

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
	"github.com/custos-network/custos/threshold"
)

// dealingNoteKeyLabel is the HKDF label of the key of a dealing note's MAC
// (docs/login.md, "Devices"): a key derived from the master secret for
// this alone.
const dealingNoteKeyLabel = "custos/v2/dealing-note-key"

// errForgedNote: a node handed this device a dealing note whose MAC does
// not verify with the vault's master secret, or that does not fit the
// network file: no device of the user made it.
var errForgedNote = errors.New("sent a dealing note that no device of this user made: faulty or lying")

// noteMAC is HMAC-SHA256(HKDF-SHA256(M, no salt, dealingNoteKeyLabel),
// api.DealingNoteTranscript(user, note)).
func noteMAC(m []byte, user string, note *api.DealingNote) ([]byte, error) {
	if len(m) != threshold.KeySize {
		return nil, errors.New("the vault's master secret is missing (wiped?)")
	}
	key, err := hkdf.Key(sha256.New, m, nil, dealingNoteKeyLabel, threshold.KeySize)
	if err != nil {
		panic("client: internal error: hkdf: " + err.Error())
	}
	defer clear(key)
	h := hmac.New(sha256.New, key)
	h.Write(api.DealingNoteTranscript(user, note))
	return h.Sum(nil), nil
}

// makeNote makes nd's dealing note, sealed with the vault's master secret
// (c.mu not held).
func (c *Client) makeNote(nd *newDealing) error {
	note := &api.DealingNote{Epoch: nd.epoch, Threshold: uint32(c.net.Threshold)}
	for i, n := range c.nodes {
		note.Shares = append(note.Shares, &api.DealingNoteShare{
			PeerId: []byte(n.info.ID), Index: uint32(nd.pubs[i].Index), PublicShare: bytes.Clone(nd.pubs[i].Element[:]),
		})
	}
	c.mu.Lock()
	mac, err := noteMAC(c.v.MasterSecret, c.v.User, note)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	note.Mac = mac
	nd.note = note
	return nil
}

// noteLogin is the login dealing a note describes, once checked
// (c.mu held): its MAC under the vault's master secret, its threshold the
// network's, its shares the network file's nodes, each at its position.
// Any failure is errForgedNote.
func (c *Client) noteLogin(note *api.DealingNote) (*vault.Login, error) {
	if note.Validate() != nil {
		return nil, errForgedNote
	}
	want, err := noteMAC(c.v.MasterSecret, c.v.User, note)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(want, note.Mac) || int(note.Threshold) != c.net.Threshold || len(note.Shares) != len(c.nodes) {
		return nil, errForgedNote
	}
	l := &vault.Login{Epoch: note.Epoch, Threshold: int(note.Threshold)}
	for i, n := range c.nodes {
		s := note.Shares[i]
		if !bytes.Equal(s.PeerId, []byte(n.info.ID)) || int(s.Index) != i+1 {
			return nil, errForgedNote
		}
		l.Nodes = append(l.Nodes, vault.LoginNode{Name: n.name, PeerID: n.idText, Index: i + 1, PublicShare: bytes.Clone(s.PublicShare)})
	}
	return l, nil
}

// followNote adopts the dealing another device of the user made with a
// password change, when the logins under d (errs, in network order) show
// it: the nodes that refused d's epoch as gone handed out the current
// dealing's note, and at least k of them the same note, of a later epoch,
// that verifies. A note that does not verify is a lying node's: it is
// named at warn level and ignored. The vault takes the dealing in one
// save (vault.AdoptLogin). It reports whether it did; an error is the
// vault's.
func (c *Client) followNote(d *dealing, errs []error) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v.PasswordChange != nil || len(c.v.Login.Pending()) > 0 {
		return false, nil // its own change, or enrollment, comes first
	}
	type group struct {
		login *vault.Login
		nodes int
	}
	groups := map[string]*group{}
	var best *group
	for i, err := range errs {
		var sd *staleDealing
		if !errors.As(err, &sd) {
			continue
		}
		l, ferr := c.noteLogin(sd.note)
		if errors.Is(ferr, errForgedNote) {
			c.log.Warn("a custodian "+errForgedNote.Error()+"; it is ignored", zap.String("node", c.nodes[i].name))
			errs[i] = &refusal{kind: errForgedNote, node: sd}
			continue
		}
		if ferr != nil {
			return false, ferr
		}
		if l.Epoch <= d.epoch {
			continue
		}
		key, err := proto.MarshalOptions{Deterministic: true}.Marshal(sd.note)
		if err != nil {
			return false, fmt.Errorf("encode a dealing note: %w", err)
		}
		g := groups[string(key)]
		if g == nil {
			g = &group{login: l}
			groups[string(key)] = g
		}
		if g.nodes++; best == nil || g.nodes > best.nodes {
			best = g
		}
	}
	if best == nil || best.nodes < c.net.Threshold {
		return false, nil
	}
	old, err := c.v.AdoptLogin(best.login)
	if err != nil {
		return false, err
	}
	if err := c.vh.Save(); err != nil {
		c.v.Login = old
		return false, fmt.Errorf("save the vault with the login dealing of epoch %d: %w", best.login.Epoch, err)
	}
	// A warning, so that the command line shows it: the vault changed, and
	// a user who changed no password elsewhere should hear of it.
	c.log.Warn("the password was changed on another device of this user; this device follows the change (its vault holds the new login dealing now)",
		zap.Uint32("epoch", best.login.Epoch), zap.Int("nodes", best.nodes))
	return true, nil
}
