package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/internal/atomicfile"
	"github.com/custos-network/custos/threshold"
)

// Format is the value of the meta key "format" of every vault that this
// build reads and writes: the format's name and version.
const Format = formatName + "4"

const formatName = "custos-vault/"

// lockWait is how long Open waits for another process to let go of the
// vault.
const lockWait = 5 * time.Second

// The database's buckets (docs/vault.md, "The database").
var (
	bucketMeta        = []byte("meta")
	bucketNodes       = []byte("nodes")
	bucketUnits       = []byte("units")
	bucketSealed      = []byte("sealed")
	bucketIDs         = []byte("ids")
	bucketPending     = []byte("pending")
	bucketReceipts    = []byte("receipts")
	bucketCheckpoints = []byte("checkpoints")
	bucketRestores    = []byte("restores")
	bucketChanges     = []byte("changes") // optional: made by the first change (changes.go)

	allBuckets = [][]byte{bucketMeta, bucketNodes, bucketUnits, bucketSealed, bucketIDs,
		bucketPending, bucketReceipts, bucketCheckpoints, bucketRestores}
	optionalBuckets = [][]byte{bucketChanges, bucketReshare}
)

// The keys of the meta bucket.
const (
	metaFormat         = "format"
	metaUser           = "user"
	metaNetwork        = "network"
	metaDeviceKey      = "device_key"
	metaMasterSecret   = "master_secret"
	metaPasswordKDF    = "password_kdf"
	metaLogin          = "login"
	metaPasswordChange = "password_change"
	metaReceiptBytes   = "receipt_bytes"
)

// metaKeys are the keys the meta bucket may hold; login and
// password_change are optional.
var metaKeys = []string{metaFormat, metaUser, metaNetwork, metaDeviceKey, metaMasterSecret,
	metaPasswordKDF, metaLogin, metaPasswordChange, metaReceiptBytes}

// DefaultPath returns where the vault is when no path is given:
// $CUSTOS_VAULT if set, else custos/vault.db in the user's configuration
// directory (os.UserConfigDir).
func DefaultPath() (string, error) {
	if p := os.Getenv("CUSTOS_VAULT"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the vault: %w; set CUSTOS_VAULT", err)
	}
	return filepath.Join(dir, "custos", "vault.db"), nil
}

// A Handle is an open vault: the database, locked against other processes,
// and the vault's header in memory (Vault). Its methods are safe for
// concurrent use; the Vault that Vault returns is the caller's to guard,
// and Save reads it.
type Handle struct {
	path string
	db   *bolt.DB
	v    *Vault

	mu      sync.Mutex // guards the fields below
	closed  bool
	damaged error                // the first damage found: nothing is written after it
	nodes   map[uint32]tableNode // the node table, as committed
	refs    map[tableNode]uint32
	queue   []Receipt // added, not saved yet
	// queued is how many receipts left the queue since the vault was
	// opened, saved or dropped: the number of queue[0].
	queued uint64

	saveMu sync.Mutex          // one save at a time, held until its write ends (SaveInBackground)
	saved  map[string][32]byte // SHA-256 of each header value as stored, by key

	jmu     sync.Mutex // one journal read or append at a time
	journal *journalTail
}

// Create makes a new vault at path holding v's header (Vault): the
// database, mode 0600, with its directory (mode 0700) if missing. It refuses
// a path where a file exists, or beside which a request journal exists
// (ErrExists), and a vault that breaks a rule of the format (ErrInvalid).
// The vault is made under another name and linked into place whole, so a
// crash leaves no vault or a complete one. It does not make the journal:
// the first AppendRequests does. v is not kept.
func Create(path string, v *Vault) error {
	if err := supported(); err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	if err := v.check(); err != nil {
		return fmt.Errorf("create vault: %w: %w", ErrInvalid, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("create vault: %s %w", path, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create vault: %w", err)
	}
	// A journal left by another vault would make its requests look like
	// this vault's to an audit.
	if _, err := os.Lstat(journalPath(path)); err == nil {
		return fmt.Errorf("create vault: the request journal %s %w; it belongs to another vault: move it away", journalPath(path), ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create vault: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	info, err := tmp.Stat()
	tmp.Close()
	if err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	if err := fill(name, info, v); err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	// Link, not rename: a vault made meanwhile at path is not replaced.
	if err := os.Link(name, path); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create vault: %s %w", path, ErrExists)
	} else if err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	return atomicfile.SyncDir(dir)
}

// fill writes a new database at name (an empty file, info) with v's header
// and every bucket, in one transaction.
func fill(name string, info fs.FileInfo, v *Vault) error {
	db, err := bolt.Open(name, 0o600, boltOptions(info, 0))
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		for k, val := range map[string][]byte{
			metaFormat: []byte(Format), metaUser: []byte(v.User), metaNetwork: v.Network,
			metaDeviceKey: v.DeviceKey, metaMasterSecret: v.MasterSecret, metaReceiptBytes: putU64(nil, 0),
		} {
			if err := meta.Put([]byte(k), val); err != nil {
				return err
			}
		}
		h := &Handle{v: v}
		for _, w := range h.headerValues() {
			if w.value != nil {
				if err := writeHeaderValue(tx, w); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open locks the vault at path, waiting up to 5 seconds for another process
// to let go of it (ErrBusy), and reads its header: the meta bucket, the
// node table, the checkpoints and the restores. It reads no record: a
// record is read, and checked, when it is asked for. A missing vault is
// ErrNotFound; one of another format version ErrUnknownFormat; a damaged
// one ErrCorrupt; one that its group or others may read or write
// ErrPermissions. Open writes nothing.
func Open(path string) (*Handle, error) { return open(path, lockWait) }

func open(path string, wait time.Duration) (*Handle, error) {
	if err := supported(); err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	info, err := sniff(path)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("open vault: %w at %s", ErrNotFound, path)
	} else if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	db, err := openDB(path, info, wait)
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	h := &Handle{path: path, db: db, saved: map[string][32]byte{}}
	if err := h.view(h.load); err != nil {
		db.Close()
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	return h, nil
}

// sniff checks the file at path as openPrivate does, and tells a file
// that is not a database apart before bbolt reads it: an empty one (which
// bbolt would make a new database of) and a JSON vault of an earlier
// custos.
func sniff(path string) (fs.FileInfo, error) {
	f, info, err := openPrivate(path, os.O_RDONLY, "it holds the device key")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: the file is empty", ErrCorrupt)
	case head[0] == '{':
		return nil, fmt.Errorf("%w: a JSON vault (custos-vault/3 or earlier), which this custos no longer reads; make a new vault with custos init", ErrUnknownFormat)
	}
	return info, nil
}

// openDB opens the database at path, which is info, and locks it.
func openDB(path string, info fs.FileInfo, wait time.Duration) (db *bolt.DB, err error) {
	opts := boltOptions(info, wait)
	var file *os.File
	opener := opts.OpenFile
	opts.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := opener(name, flag, mode)
		file = f
		return f, err
	}
	defer func() {
		if p := recover(); p != nil {
			// bbolt panicked half-open. Closing the file is all that can
			// be done: if bbolt had mapped it, the mapping keeps the
			// lock until this process ends.
			if file != nil {
				file.Close()
			}
			db, err = nil, damagedPages(p)
		}
	}()
	db, err = bolt.Open(path, 0o600, opts)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w (it holds the lock on %s; waited %v)", ErrBusy, path, wait)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: not a vault database (%v)", ErrCorrupt, err)
	case err != nil:
		return nil, err
	}
	return db, nil
}

// boltOptions are the database's options: wait for the lock (0: fail at
// once), and open only the file that was checked (openChecked).
func boltOptions(info fs.FileInfo, wait time.Duration) *bolt.Options {
	if wait <= 0 {
		wait = time.Millisecond
	}
	return &bolt.Options{Timeout: wait, OpenFile: openChecked(info), FreelistType: bolt.FreelistMapType}
}

// damagedPages is the error of a panic of bbolt's: it panics on some
// damaged pages.
func damagedPages(p any) error {
	return fmt.Errorf("%w: its database pages are damaged (%v)", ErrCorrupt, p)
}

// load reads the vault's header in tx and keeps it in h.
func (h *Handle) load(tx *bolt.Tx) error {
	if err := checkBuckets(tx); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	format := meta.Get([]byte(metaFormat))
	if format == nil {
		return fmt.Errorf("%w: not a vault: its meta bucket names no format", ErrCorrupt)
	}
	if err := checkFormat(string(format)); err != nil {
		return err
	}
	if err := meta.ForEach(func(k, v []byte) error {
		if !contains(metaKeys, string(k)) || v == nil {
			return fmt.Errorf("%w: the meta bucket has an unknown key %q", ErrCorrupt, clip(string(k)))
		}
		return nil
	}); err != nil {
		return err
	}
	v, err := readHeader(tx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	nodes, refs, err := readNodeTable(tx)
	if err != nil {
		v.Wipe()
		return fmt.Errorf("%w: the node table: %w", ErrCorrupt, err)
	}
	h.v, h.nodes, h.refs = v, nodes, refs
	for _, w := range h.headerValues() {
		if w.value != nil {
			h.saved[w.bucket2key()] = sha256.Sum256(w.value)
			clear(w.value)
		}
	}
	return nil
}

// checkFormat refuses a format this build does not read.
func checkFormat(format string) error {
	if format == Format {
		return nil
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(format, formatName)); err == nil && n > 4 && strings.HasPrefix(format, formatName) {
		return fmt.Errorf("%w %q: a newer custos wrote it (this one reads %q)", ErrUnknownFormat, format, Format)
	}
	return fmt.Errorf("%w %q (this build reads %q)", ErrUnknownFormat, clip(format), Format)
}

// checkBuckets requires exactly the format's buckets at the top level.
func checkBuckets(tx *bolt.Tx) error {
	seen := 0
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		for _, b := range optionalBuckets {
			if bytes.Equal(b, name) {
				return nil
			}
		}
		for _, b := range allBuckets {
			if bytes.Equal(b, name) {
				seen++
				return nil
			}
		}
		return fmt.Errorf("%w: it has an unknown bucket %q", ErrCorrupt, clip(string(name)))
	})
	if err != nil {
		return err
	}
	if seen != len(allBuckets) {
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: it has no bucket %q", ErrCorrupt, b)
			}
		}
	}
	return nil
}

// readHeader decodes the meta bucket, the checkpoints and the restores,
// and checks them together (Vault.check).
func readHeader(tx *bolt.Tx) (*Vault, error) {
	meta := tx.Bucket(bucketMeta)
	get := func(k string) []byte { return meta.Get([]byte(k)) }
	// Sizes are checked before anything is copied out of the file.
	for k, most := range map[string]int{metaUser: api.MaxUserLen, metaNetwork: MaxNetworkSize,
		metaDeviceKey: maxDeviceKeySize, metaMasterSecret: threshold.KeySize} {
		if len(get(k)) > most {
			return nil, fmt.Errorf("meta: %s is %d bytes, more than the %d it may be", k, len(get(k)), most)
		}
	}
	v := &Vault{
		User:         string(get(metaUser)),
		Network:      bytes.Clone(get(metaNetwork)),
		DeviceKey:    bytes.Clone(get(metaDeviceKey)),
		MasterSecret: bytes.Clone(get(metaMasterSecret)),
	}
	fail := func(err error) (*Vault, error) {
		v.Wipe()
		return nil, err
	}
	if b := get(metaReceiptBytes); len(b) != 8 {
		return fail(errors.New("meta: receipt_bytes is not 8 bytes"))
	}
	var err error
	if v.PasswordKDF, err = decodeKDF(get(metaPasswordKDF)); err != nil {
		return fail(fmt.Errorf("password_kdf: %w", err))
	}
	if b := get(metaLogin); b != nil {
		if v.Login, err = decodeLogin(b); err != nil {
			return fail(err)
		}
	}
	if b := get(metaPasswordChange); b != nil {
		if v.PasswordChange, err = decodeChange(b); err != nil {
			return fail(fmt.Errorf("password_change: %w", err))
		}
	}
	err = tx.Bucket(bucketCheckpoints).ForEach(func(k, val []byte) error {
		if len(v.Checkpoints) == MaxCheckpoints {
			return fmt.Errorf("more than %d checkpoints", MaxCheckpoints)
		}
		if len(k) > maxNodeName || len(val) > api.MaxCheckpointSize {
			return fmt.Errorf("checkpoints: the checkpoint of node %q is %d bytes; it must be 1 to %d", clip(string(k)), len(val), api.MaxCheckpointSize)
		}
		c := NodeCheckpoint{Node: string(k), Checkpoint: bytes.Clone(val)}
		if err := checkNodeCheckpoint(&c); err != nil {
			return fmt.Errorf("checkpoints: %w", err)
		}
		v.Checkpoints = append(v.Checkpoints, c)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	err = tx.Bucket(bucketRestores).ForEach(func(k, val []byte) error {
		if len(v.Restores) == MaxRestores {
			return fmt.Errorf("more than %d restores", MaxRestores)
		}
		r, err := decodeRestore(val)
		if err != nil {
			return fmt.Errorf("restores[%d]: %w", len(v.Restores), err)
		}
		v.Restores = append(v.Restores, r)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if err := v.check(); err != nil {
		return fail(err)
	}
	return v, nil
}

// readNodeTable reads the whole node table: each entry valid, each (name,
// peer ID) pair once.
func readNodeTable(tx *bolt.Tx) (map[uint32]tableNode, map[tableNode]uint32, error) {
	nodes, refs := map[uint32]tableNode{}, map[tableNode]uint32{}
	err := tx.Bucket(bucketNodes).ForEach(func(k, val []byte) error {
		if len(k) != 4 || val == nil {
			return errors.New("a key is not a 4-byte number")
		}
		ref := (&reader{b: k}).u32()
		n, err := decodeTableNode(val)
		if err != nil {
			return fmt.Errorf("entry %d: %w", ref, err)
		}
		if _, dup := refs[n]; dup {
			return fmt.Errorf("entry %d: node %s is in the table twice", ref, n.Name)
		}
		nodes[ref], refs[n] = n, ref
		return nil
	})
	return nodes, refs, err
}

// headerValue is one value of the header as Save writes it: nil to delete.
type headerValue struct {
	bucket []byte
	key    string
	value  []byte
}

func (w headerValue) bucket2key() string { return string(w.bucket) + "/" + w.key }

// headerValues encodes what Save keeps of the header: the network file,
// the password's parameters, the login dealing, the password change, each
// checkpoint and the restores (all in one value: they change together).
// The user, the device key and the master secret are written by Create
// only. The caller clears the values, which hold key shares.
func (h *Handle) headerValues() []headerValue {
	v := h.v
	out := []headerValue{
		{bucketMeta, metaNetwork, bytes.Clone(v.Network)},
		{bucketMeta, metaPasswordKDF, encodeKDF(v.PasswordKDF)},
		{bucketMeta, metaLogin, nil},
		{bucketMeta, metaPasswordChange, nil},
	}
	if v.Login != nil {
		out[2].value = encodeLogin(v.Login)
	}
	if v.PasswordChange != nil {
		out[3].value = encodeChange(v.PasswordChange)
	}
	for _, c := range v.Checkpoints {
		out = append(out, headerValue{bucketCheckpoints, c.Node, bytes.Clone(c.Checkpoint)})
	}
	var restores []byte
	for i := range v.Restores {
		restores = putBytes(restores, encodeRestore(&v.Restores[i]))
	}
	return append(out, headerValue{bucketRestores, "", restores})
}

// Vault returns the vault's header in memory, for the caller to read and
// change; Save writes the changes.
func (h *Handle) Vault() *Vault { return h.v }

// Save checks the header in memory (ErrInvalid) and writes what changed of
// it since it was read or last saved, with the receipts AddReceipts queued,
// in one transaction: all of it is on disk when Save returns, or none. It
// writes nothing when nothing changed. A vault found damaged is not written
// to (ErrCorrupt). A save still under way (SaveInBackground) is waited for
// first.
func (h *Handle) Save() error {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	s, err := h.prepareSave()
	if err != nil || s == nil {
		return err
	}
	return s.write()
}

// SaveInBackground is Save with the write, and the sync that makes it
// durable, left to another goroutine: it checks the header and takes what
// to write of it, and the receipts queued, before it returns, so that the
// caller may change the Vault again at once. A save still under way is
// waited for first. The next Save or SaveInBackground waits for this one,
// and so does Close. done, if not nil, is called once: with the write's
// error (nil once all of it is on disk) from the goroutine that wrote, or
// with nil before SaveInBackground returns when nothing changed; not at
// all when SaveInBackground returns an error. A crash before the write
// ends loses all of it, as if it had not been asked for: it is for what
// may be lost (receipts, a node's newest checkpoint), not for what a
// caller acknowledges.
func (h *Handle) SaveInBackground(done func(error)) error {
	h.saveMu.Lock()
	s, err := h.prepareSave()
	if err != nil || s == nil {
		h.saveMu.Unlock()
		if err == nil && done != nil {
			done(nil)
		}
		return err
	}
	go func() {
		err := s.write()
		h.saveMu.Unlock()
		if done != nil {
			done(err)
		}
	}()
	return nil
}

// pendingSave is what one save writes: the header values that changed, with
// the sums to remember once they are written, and the receipts queued from
// number first on.
type pendingSave struct {
	h       *Handle
	values  []headerValue // every header value, to wipe when written
	writes  []headerValue
	changed map[string][32]byte
	queued  []Receipt
	first   uint64
}

// prepareSave checks the header and takes what a save writes of it, and of
// the receipts queued; nil when nothing changed. The caller holds saveMu.
func (h *Handle) prepareSave() (*pendingSave, error) {
	if err := h.writable(); err != nil {
		return nil, fmt.Errorf("save vault: %w", err)
	}
	if err := h.v.check(); err != nil {
		return nil, fmt.Errorf("save vault: %w: %w", ErrInvalid, err)
	}
	s := &pendingSave{h: h, values: h.headerValues(), changed: map[string][32]byte{}}
	current := map[string]bool{}
	for _, w := range s.values {
		k := w.bucket2key()
		current[k] = true
		sum := sha256.Sum256(w.value)
		if w.value == nil {
			sum = [32]byte{}
		}
		if old, ok := h.saved[k]; (ok || w.value != nil) && old != sum {
			s.writes, s.changed[k] = append(s.writes, w), sum
		}
	}
	for k := range h.saved {
		if name, ok := strings.CutPrefix(k, string(bucketCheckpoints)+"/"); ok && !current[k] {
			s.writes, s.changed[k] = append(s.writes, headerValue{bucketCheckpoints, name, nil}), [32]byte{}
		}
	}
	h.mu.Lock()
	s.queued, s.first = slices.Clone(h.queue), h.queued
	h.mu.Unlock()
	if len(s.writes) == 0 && len(s.queued) == 0 {
		s.wipe()
		return nil, nil
	}
	return s, nil
}

// write writes s in one transaction, and then notes what is saved. The
// caller holds saveMu.
func (s *pendingSave) write() error {
	defer s.wipe()
	h := s.h
	err := h.update(func(tx *bolt.Tx) error {
		for _, w := range s.writes {
			if err := writeHeaderValue(tx, w); err != nil {
				return err
			}
		}
		return appendReceipts(tx, s.queued)
	})
	if err != nil {
		return fmt.Errorf("save vault: %w", err)
	}
	for k, sum := range s.changed {
		if sum == ([32]byte{}) {
			delete(h.saved, k)
		} else {
			h.saved[k] = sum
		}
	}
	// Receipts added meanwhile stay queued; those of the snapshot that
	// AddReceipts dropped meanwhile are gone already.
	h.mu.Lock()
	if end := s.first + uint64(len(s.queued)); end > h.queued {
		n := min(end-h.queued, uint64(len(h.queue)))
		h.queue, h.queued = h.queue[n:], h.queued+n
	}
	h.mu.Unlock()
	return nil
}

// wipe clears the header values s took: they hold the vault's secrets.
func (s *pendingSave) wipe() {
	for _, w := range s.values {
		clear(w.value)
	}
}

// writeHeaderValue puts or deletes one header value. The restores are
// written anew, numbered from 1, oldest first.
func writeHeaderValue(tx *bolt.Tx, w headerValue) error {
	b := tx.Bucket(w.bucket)
	if !bytes.Equal(w.bucket, bucketRestores) {
		if w.value == nil {
			return b.Delete([]byte(w.key))
		}
		return b.Put([]byte(w.key), w.value)
	}
	if err := tx.DeleteBucket(bucketRestores); err != nil {
		return err
	}
	b, err := tx.CreateBucket(bucketRestores)
	if err != nil {
		return err
	}
	r := reader{b: w.value}
	n := uint64(0)
	for len(r.b) > 0 {
		n++
		if err := b.Put(putU64(nil, n), r.bytes(len(w.value))); err != nil {
			return err
		}
	}
	return b.SetSequence(n)
}

// Close releases the vault, once a save under way (SaveInBackground) has
// ended. It does not wipe the header in memory (see Vault.Wipe), and drops
// receipts that were queued and not saved. Closing twice is not an error.
func (h *Handle) Close() error {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	if err := h.db.Close(); err != nil {
		return fmt.Errorf("close vault: %w", err)
	}
	return nil
}

func (h *Handle) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// writable says why the vault may not be written to: it is closed, or was
// found damaged.
func (h *Handle) writable() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return os.ErrClosed
	case h.damaged != nil:
		return fmt.Errorf("%w: it is not written to since this was found: %w", ErrCorrupt, h.damaged)
	}
	return nil
}

// view runs fn in a read transaction. Damage found (an error of fn that
// matches ErrCorrupt, or a panic of bbolt's on a damaged page) is kept:
// the vault is not written to again through this handle.
func (h *Handle) view(fn func(*bolt.Tx) error) (err error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return os.ErrClosed
	}
	defer h.noteDamage(&err)
	return h.db.View(fn)
}

// errUnchanged ends a write transaction that found nothing to write: it
// is rolled back, so that the file is not touched.
var errUnchanged = errors.New("nothing to write")

// update runs fn in a write transaction, committed (and synced) before it
// returns, if the vault may be written to (writable). fn returns
// errUnchanged to write nothing.
func (h *Handle) update(fn func(*bolt.Tx) error) (err error) {
	if err := h.writable(); err != nil {
		return err
	}
	defer h.noteDamage(&err)
	if err := h.db.Update(fn); !errors.Is(err, errUnchanged) {
		return err
	}
	return nil
}

func (h *Handle) noteDamage(err *error) {
	if p := recover(); p != nil {
		*err = damagedPages(p)
	}
	if *err != nil && errors.Is(*err, ErrCorrupt) {
		h.mu.Lock()
		if h.damaged == nil {
			h.damaged = *err
		}
		h.mu.Unlock()
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
