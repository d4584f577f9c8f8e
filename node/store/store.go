package store

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
)

var (
	// ErrNotFound: the record asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt: a stored value is malformed, of an unknown version, or
	// does not belong to the key it is stored under.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrWrongKey: the storage key is not the one the directory was made with.
	ErrWrongKey = errors.New("store: the storage key does not match this data directory")
	// ErrLocked: another process (or another Store) has the directory open.
	ErrLocked = errors.New("store: the data directory is in use by another process")
	// ErrInvalid: an argument breaks the store's rules (a bad user name, a
	// share too large, a negative index, ...).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrTooBig: one Update wrote more than fits in one Badger transaction.
	ErrTooBig = errors.New("store: the update is too big for one transaction")
	// ErrNotEmpty: RestoreInto was given a directory that holds files.
	ErrNotEmpty = errors.New("store: the directory is not empty")
)

// StorageKeySize is the size of the node's storage key.
const StorageKeySize = 32

// Badger settings. Encryption needs both caches; the data set (accounts,
// 64-byte shares, log entries) is small, so modest caches are enough.
//
// Badger preallocates each write-ahead log at twice memTableSize and each
// value log file at twice valueLogFileSize, as sparse files, and the
// free-space guard (space.go) must keep their holes and the next log free.
// Small sizes keep that reserve practical (105 MiB for a new store, where
// Badger's 64 MiB memtables would need nearly 400) while a memtable still
// holds tens of thousands of the store's small records. Values stay far
// below either size.
const (
	indexCacheSize   = 64 << 20
	blockCacheSize   = 32 << 20
	memTableSize     = 16 << 20
	valueLogFileSize = 16 << 20
)

// Store is a custodian node's database. Its methods are safe for
// concurrent use. Functions passed to Update and View must not call the
// Store's methods: an Update inside an Update never returns.
type Store struct {
	db          *badger.DB
	log         *zap.Logger
	shareAEAD   cipher.AEAD
	reservePath string // the reserve file, "" in memory or without room

	queue      chan *request
	writerDone chan struct{}
	qmu        sync.RWMutex // guards closed and sends on queue
	closed     bool

	// dbmu is held shared by View, Backup and Stats and exclusively by Close
	// around db.Close, so no read outlives the database.
	dbmu      sync.RWMutex
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	updates atomic.Int64 // Update functions committed
	commits atomic.Int64 // Badger commits that carried them

	space *spaceGuard // nil in memory
}

// derivedKeys are the two keys the storage key is expanded into.
type derivedKeys struct {
	badger []byte // AES-256 encryption at rest; Badger keeps this slice
	wrap   []byte // XChaCha20-Poly1305 share wrapping
}

func deriveKeys(storageKey []byte) (derivedKeys, error) {
	if len(storageKey) != StorageKeySize {
		return derivedKeys{}, fmt.Errorf("%w: storage key is %d bytes, want %d", ErrInvalid, len(storageKey), StorageKeySize)
	}
	// Distinct HKDF infos make the two keys independent, so the share
	// wrapping stays sound whatever Badger does with its key.
	b, err := hkdf.Key(sha256.New, storageKey, nil, "custos/v1/node/badger", 32)
	if err != nil {
		return derivedKeys{}, fmt.Errorf("derive badger key: %w", err)
	}
	w, err := hkdf.Key(sha256.New, storageKey, nil, "custos/v1/node/share-wrap", 32)
	if err != nil {
		return derivedKeys{}, fmt.Errorf("derive share-wrap key: %w", err)
	}
	return derivedKeys{badger: b, wrap: w}, nil
}

// options returns the Badger options for dir ("" for in memory).
func options(dir string, badgerKey []byte, log *zap.Logger) badger.Options {
	var opts badger.Options
	if dir == "" {
		opts = badger.DefaultOptions("").WithInMemory(true)
	} else {
		opts = badger.DefaultOptions(dir)
	}
	return opts.
		WithEncryptionKey(badgerKey).
		WithIndexCacheSize(indexCacheSize).
		WithBlockCacheSize(blockCacheSize).
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		WithMemTableSize(memTableSize).
		WithValueLogFileSize(valueLogFileSize).
		// The writer goroutine is the only writer, so there is nothing to
		// conflict with.
		WithDetectConflicts(false).
		WithLogger(badgerLogger{log.Named("badger")})
}

// Open opens, creating if needed, the store in dir. storageKey is the node's
// 32-byte storage key. A wrong key for an existing directory gives an error
// wrapping ErrWrongKey, and a directory another process has open one
// wrapping ErrLocked.
func Open(dir string, storageKey []byte, log *zap.Logger) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty data directory name", ErrInvalid)
	}
	return open(dir, storageKey, log, nil)
}

// OpenInMemory opens an empty store that lives in memory only (Badger's
// InMemory mode), for tests. Update still waits for its commit, but nothing
// is durable.
func OpenInMemory(storageKey []byte, log *zap.Logger) (*Store, error) {
	return open("", storageKey, log, nil)
}

// open opens the store; tune, for tests, may change the Badger options.
func open(dir string, storageKey []byte, log *zap.Logger, tune func(badger.Options) badger.Options) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	keys, err := deriveKeys(storageKey)
	if err != nil {
		return nil, err
	}
	defer clear(keys.wrap)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	opts := options(dir, keys.badger, log)
	if tune != nil {
		opts = tune(opts)
	}
	db, err := openBadger(opts)
	if err != nil {
		return nil, err
	}
	aead, err := newShareAEAD(keys.wrap)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("share-wrap cipher: %w", err)
	}
	s := &Store{
		db:         db,
		log:        log,
		shareAEAD:  aead,
		queue:      make(chan *request, queueLen),
		writerDone: make(chan struct{}),
		space:      newSpaceGuard(opts, log),
	}
	s.makeReserve(dir, opts.MemTableSize+spaceMargin)
	go s.writer()
	if err := s.ensureKeyCheck(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func openBadger(opts badger.Options) (*badger.DB, error) {
	where := opts.Dir
	if opts.InMemory {
		where = "memory"
	}
	if err := checkOpen(opts); err != nil {
		return nil, fmt.Errorf("open store in %s: %w", where, err)
	}
	db, err := badger.Open(opts)
	if err == nil {
		return db, nil
	}
	switch {
	case errors.Is(err, badger.ErrEncryptionKeyMismatch):
		return nil, fmt.Errorf("open store in %s: %w", where, ErrWrongKey)
	case isLockError(err):
		return nil, fmt.Errorf("open store in %s: %w", where, ErrLocked)
	}
	return nil, fmt.Errorf("open store in %s: %w", where, err)
}

// isLockError recognises Badger's failure to flock the directory. Badger
// formats the cause into its message rather than wrapping it, so the
// message is all there is to go on; TestOpenLocked pins it.
func isLockError(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) ||
		strings.Contains(err.Error(), "Another process is using this Badger database")
}

// View runs fn against a read-only snapshot of the store.
func (s *Store) View(fn func(*Tx) error) error {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closing.Load() {
		return ErrClosed
	}
	return s.db.View(func(txn *badger.Txn) error {
		tx := &Tx{s: s, txn: txn}
		defer func() { tx.done = true }()
		return fn(tx)
	})
}

// Close answers every Update already queued, stops the writer goroutine
// and closes Badger. Later calls return what the first returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.qmu.Lock()
		s.closed = true
		close(s.queue)
		s.qmu.Unlock()
		<-s.writerDone

		s.dbmu.Lock()
		defer s.dbmu.Unlock()
		s.dropReserve()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close: %w", err)
		}
	})
	return s.closeErr
}

// Backup writes Badger's backup stream of the whole store to w. The stream
// is NOT encrypted: accounts, invites and log entries are in it in the
// clear (shares stay sealed under the storage key), so the caller must
// encrypt it before it reaches a file.
func (s *Store) Backup(w io.Writer) error {
	s.dbmu.RLock()
	defer s.dbmu.RUnlock()
	if s.closing.Load() {
		return ErrClosed
	}
	if _, err := s.db.Backup(w, 0); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// RestoreInto loads a stream that Backup wrote into a new store in dir,
// which must be missing or empty. storageKey must be the key of the store
// the backup came from, or its shares would never open: a mismatch is
// caught and reported as ErrWrongKey. On any failure RestoreInto removes
// what it wrote, leaving dir empty.
func RestoreInto(dir string, storageKey []byte, r io.Reader, log *zap.Logger) (err error) {
	if dir == "" {
		return fmt.Errorf("%w: empty data directory name", ErrInvalid)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("restore: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("restore into %s: %w", dir, ErrNotEmpty)
	}
	if log == nil {
		log = zap.NewNop()
	}
	keys, err := deriveKeys(storageKey)
	if err != nil {
		return err
	}
	defer clear(keys.wrap)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore: create data directory: %w", err)
	}
	defer func() {
		if err != nil {
			RemoveContents(dir)
		}
	}()
	db, err := openBadger(options(dir, keys.badger, log))
	if err != nil {
		return err
	}
	if err := db.Load(r, 256); err != nil {
		_ = db.Close()
		return fmt.Errorf("restore: load backup: %w", err)
	}
	aead, err := newShareAEAD(keys.wrap)
	if err == nil {
		err = db.View(func(txn *badger.Txn) error { return verifyKeyCheck(txn, aead) })
		if errors.Is(err, ErrNotFound) {
			err = nil // a backup of an empty store
		}
	}
	if err != nil {
		err = fmt.Errorf("restore: %w", err)
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("restore: close: %w", cerr)
	}
	return err
}

// RemoveContents empties dir, best effort, and leaves it: it may be a
// mount point.
func RemoveContents(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// Stats are counts for status output and metrics.
type Stats struct {
	Accounts       int
	LockedAccounts int
	Shares         int
	LogSize        int64
	// DiskBytes is the size of Badger's LSM and value log files as Badger
	// last measured them (at Open, then once a minute). Value log files are
	// preallocated, so this is an upper bound; 0 in memory.
	DiskBytes int64
	// ReserveBytes is the free space the store needs on its file system
	// before it takes a write: the holes of Badger's sparse files plus room
	// for the next write-ahead log and a margin (space.go). With less, every
	// Update fails with ErrDiskFull. 0 in memory.
	ReserveBytes int64
	// Updates and Commits count, since Open, the Update functions committed
	// and the Badger commits (fsyncs) that carried them.
	Updates int64
	Commits int64
}

// Commits returns, since Open, the Update functions committed and the
// Badger commits (fsyncs) that carried them: their ratio is what group
// commit shares one fsync among. Unlike Stats it reads no key.
func (s *Store) Commits() (updates, commits int64) {
	return s.updates.Load(), s.commits.Load()
}

// Stats counts what the store holds. It reads every account and share key,
// so it is for status requests, not for every request.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.View(func(tx *Tx) error {
		if err := tx.Accounts(func(a *Account) error {
			st.Accounts++
			if a.Locked {
				st.LockedAccounts++
			}
			return nil
		}); err != nil {
			return err
		}
		if _, err := tx.scan([]byte{prefixShare}, nil, true, 0, func(_, _ []byte) error {
			st.Shares++
			return nil
		}); err != nil {
			return fmt.Errorf("count shares: %w", err)
		}
		n, err := tx.LogSize()
		st.LogSize = n
		return err
	})
	if err != nil {
		return Stats{}, err
	}
	lsm, vlog := s.db.Size()
	st.DiskBytes = lsm + vlog
	if st.ReserveBytes, err = s.space.reserve(); err != nil {
		return Stats{}, err
	}
	st.Updates, st.Commits = s.Commits()
	return st, nil
}

// Decide runs fn in one durable update, as Update does, and returns the
// outcome fn chose: a refusal that fn records (as a log entry, say) is its
// outcome rather than its error, so that what fn wrote is kept. An error of
// fn or of the update wins over the outcome.
func (s *Store) Decide(ctx context.Context, fn func(tx *Tx) (outcome error, err error)) error {
	var outcome error
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		outcome, err = fn(tx)
		return err
	})
	if err != nil {
		return err
	}
	return outcome
}

// Update runs fn in the writer goroutine and returns once what fn wrote is
// durable. It returns fn's error (and then nothing fn wrote is kept), an
// error of the commit, ctx.Err() if ctx ends before fn starts, or ErrClosed.
// Once fn has started, Update waits for the commit whatever ctx does.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.qmu.RLock()
	if s.closed {
		s.qmu.RUnlock()
		return ErrClosed
	}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		s.qmu.RUnlock()
		return ctx.Err()
	}
	s.qmu.RUnlock()

	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return ctx.Err()
		}
		<-r.done
		return r.err
	}
}
