package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A node's audit log publishes its tree head as a C2SP tlog-checkpoint
// (c2sp.org/tlog-checkpoint): a signed note (c2sp.org/signed-note) whose text
// is three lines, the origin, the tree size in decimal and the base64 root
// hash. The note is signed with the node's Ed25519 identity key under the key
// name equal to the origin, so a client or an auditor needs nothing but the
// node's public key (pinned through its peer ID) and its name to verify one,
// with this package or with any signed-note implementation.

// MaxCheckpointSize is the largest signed checkpoint OpenCheckpoint reads.
// A checkpoint signed by one node is about 200 bytes; the rest leaves room for
// a few witness cosignatures, which OpenCheckpoint ignores.
const MaxCheckpointSize = 4 << 10

var (
	// ErrCheckpointSignature is matched (errors.Is) when a checkpoint carries
	// no valid signature by the expected node key under the expected origin.
	ErrCheckpointSignature = errors.New("checkpoint is not signed by the node's key")

	// ErrCheckpointMalformed is matched when a checkpoint is too large, is not
	// a well-formed signed note, or its signed text is not a strict
	// tlog-checkpoint body for the expected origin.
	ErrCheckpointMalformed = errors.New("malformed checkpoint")
)

// checkpointOriginPrefix namespaces node origins, so a custos checkpoint
// cannot be mistaken for another log's that happens to share a node's name.
const checkpointOriginPrefix = "custos/"

// LogOrigin returns the checkpoint origin (and signed-note key name) of the
// audit log of the node called nodeName: "custos/<node name>". NoteSigner and
// NoteVerifier refuse it if nodeName holds a space or a plus sign.
func LogOrigin(nodeName string) string {
	return checkpointOriginPrefix + nodeName
}

// checkpointAlgEd25519 is the signed-note signature type of Ed25519.
const checkpointAlgEd25519 = 0x01

// checkpointValidKeyName reports whether name can be a signed-note key name:
// non-empty UTF-8 with neither Unicode spaces nor '+'. Since '\n' is a space,
// a valid name is also a valid single checkpoint line.
func checkpointValidKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// checkpointKeyID is the signed-note key ID of an Ed25519 key:
// SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4], big-endian.
func checkpointKeyID(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', checkpointAlgEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// noteEd25519Signer is a note.Signer holding an Ed25519 private key in
// memory, unlike note.NewSigner, which wants the key as an encoded string.
type noteEd25519Signer struct {
	name string
	id   uint32
	key  ed25519.PrivateKey
}

func (s *noteEd25519Signer) Name() string    { return s.name }
func (s *noteEd25519Signer) KeyHash() uint32 { return s.id }
func (s *noteEd25519Signer) Sign(msg []byte) ([]byte, error) {
	return ed25519.Sign(s.key, msg), nil
}

// NoteSigner returns a note.Signer that makes standard signed-note Ed25519
// signatures with key under the key name origin. Its signatures verify with
// NoteVerifier and with note.NewVerifier(note.NewEd25519VerifierKey(origin,
// key.Public())).
//
// The signer keeps key for as long as it is used; it does not copy it.
func NoteSigner(origin string, key ed25519.PrivateKey) (note.Signer, error) {
	if !checkpointValidKeyName(origin) {
		return nil, fmt.Errorf("make note signer: origin %.64q is not a valid key name (empty, or holds a space or '+')", origin)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("make note signer: private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	// An ed25519.PrivateKey is seed ‖ public key, and Sign trusts the second
	// half. A key whose halves disagree (a corrupted key file, say) would sign
	// with one key and name another, so every signature would fail to verify.
	pub := ed25519.NewKeyFromSeed(key.Seed()).Public().(ed25519.PublicKey)
	if subtle.ConstantTimeCompare(pub, key[ed25519.SeedSize:]) != 1 {
		return nil, errors.New("make note signer: the private key's public half does not match its seed")
	}
	return &noteEd25519Signer{name: origin, id: checkpointKeyID(origin, pub), key: key}, nil
}

// NoteVerifier returns the standard signed-note verifier of the Ed25519 key
// pub under the key name origin.
func NoteVerifier(origin string, pub ed25519.PublicKey) (note.Verifier, error) {
	if !checkpointValidKeyName(origin) {
		return nil, fmt.Errorf("make note verifier: origin %.64q is not a valid key name (empty, or holds a space or '+')", origin)
	}
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return nil, fmt.Errorf("make note verifier: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("make note verifier: %w", err)
	}
	return v, nil
}

// Checkpoint is the tree head of a node's audit log: the RFC 6962 root hash
// of the log's first Size entries.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Text returns the checkpoint's note text, the C2SP tlog-checkpoint body
// "<origin>\n<size>\n<base64 root>\n". It writes no extension lines.
func (c Checkpoint) Text() []byte {
	b := make([]byte, 0, len(c.Origin)+1+20+1+44+1)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root[:])
	return append(b, '\n')
}

// SignCheckpoint returns c as a signed note signed by s. The signer's key
// name must be c.Origin (C2SP: the log's key name matches its origin), which
// NoteSigner(c.Origin, key) ensures.
//
// It signs whatever it is given: keeping every signed checkpoint consistent
// with every earlier one is the log's job.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if !checkpointValidKeyName(c.Origin) {
		return nil, fmt.Errorf("sign checkpoint: origin %.64q is not a valid key name (empty, or holds a space or '+')", c.Origin)
	}
	if c.Size < 0 {
		return nil, fmt.Errorf("sign checkpoint: negative tree size %d", c.Size)
	}
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("sign checkpoint: signer key name %.64q is not the origin %.64q", s.Name(), c.Origin)
	}
	signed, err := note.Sign(&note.Note{Text: string(c.Text())}, s)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return signed, nil
}

// OpenCheckpoint verifies a signed checkpoint of the log called origin
// against the node's pinned Ed25519 key pub and returns its tree head.
//
// The note must be at most MaxCheckpointSize bytes and carry a valid
// signature by pub under the key name origin; otherwise the error matches
// ErrCheckpointSignature (or ErrCheckpointMalformed for a note that does not
// parse). Signatures by other keys, such as witness cosignatures, are
// ignored. The signed text must then be a strict tlog-checkpoint body: the
// origin line equal to origin, a decimal tree size with no sign and no
// leading zero, and the standard base64 of a 32-byte root. Extension lines
// after the root are allowed (they must be non-empty) and ignored. Anything
// else matches ErrCheckpointMalformed.
//
// A valid checkpoint only says what the node signed. Whether the node's log
// is consistent with an earlier checkpoint is for a consistency proof to show.
func OpenCheckpoint(signed []byte, origin string, pub ed25519.PublicKey) (Checkpoint, error) {
	if len(signed) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %d bytes, more than the %d allowed: %w", len(signed), MaxCheckpointSize, ErrCheckpointMalformed)
	}
	v, err := NoteVerifier(origin, pub)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return Checkpoint{}, fmt.Errorf("open checkpoint: no signature by the key of %.64q: %w", origin, ErrCheckpointSignature)
		case errors.As(err, &invalid):
			return Checkpoint{}, fmt.Errorf("open checkpoint: invalid signature by the key of %.64q: %w", origin, ErrCheckpointSignature)
		default:
			return Checkpoint{}, fmt.Errorf("open checkpoint: %v: %w", err, ErrCheckpointMalformed)
		}
	}
	c, err := checkpointParseText(n.Text, origin)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	return c, nil
}

// checkpointParseText parses a verified note text as a tlog-checkpoint body.
func checkpointParseText(text, origin string) (Checkpoint, error) {
	malformed := func(what string) error {
		return fmt.Errorf("%s: %w", what, ErrCheckpointMalformed)
	}
	// note.Open guarantees text ends in '\n'; check anyway, since the parse
	// below relies on it.
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, malformed("text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, malformed("fewer than three lines")
	}
	for _, l := range lines[3:] {
		if l == "" {
			return Checkpoint{}, malformed("empty extension line")
		}
	}
	if lines[0] != origin {
		return Checkpoint{}, malformed(fmt.Sprintf("origin is %.64q, want %.64q", lines[0], origin))
	}
	size, ok := checkpointParseSize(lines[1])
	if !ok {
		return Checkpoint{}, malformed("tree size is not a canonical decimal int64")
	}
	var root tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != len(root) {
		return Checkpoint{}, malformed("root hash is not the base64 of 32 bytes")
	}
	copy(root[:], raw)
	// Go's decoder tolerates non-zero padding bits (and would skip '\r');
	// insist on the one canonical encoding, so a checkpoint has one form.
	if !bytes.Equal(base64.StdEncoding.AppendEncode(nil, root[:]), []byte(lines[2])) {
		return Checkpoint{}, malformed("root hash is not canonical base64")
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// checkpointParseSize parses "0" or a decimal number without sign or leading
// zero that fits in an int64.
func checkpointParseSize(s string) (int64, bool) {
	if s == "" || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
