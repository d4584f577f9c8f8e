package vault

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/internal/atomicfile"
)

// ExportFormat is the first line of a vault export (before encryption):
// its format's name and version.
const ExportFormat = "custos-vault-export/1"

// Bounds of an export read back.
const (
	// maxExportHeader caps the export's header line.
	maxExportHeader = 4 << 10
	// MaxExportSize caps the database an export holds: far above a vault
	// of a million records.
	MaxExportSize = 16 << 30
)

// ErrExportFormat is the error of an export that is not one this build
// reads: another format, a damaged header or a database of another size
// than the header says.
var ErrExportFormat = errors.New("not a vault export this custos reads")

// ExportHeader describes a vault export: whose vault, which device it came
// from (its peer ID, text form), when it was made, and the size of the
// database that follows it.
type ExportHeader struct {
	User    string    `json:"user"`
	Device  string    `json:"device"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
}

func (h *ExportHeader) check() error {
	switch {
	case !api.ValidUser(h.User):
		return fmt.Errorf("%w: the user name is not valid", ErrExportFormat)
	case h.Device == "" || len(h.Device) > 128:
		return fmt.Errorf("%w: no device", ErrExportFormat)
	case h.Size <= 0 || h.Size > MaxExportSize:
		return fmt.Errorf("%w: a database of %d bytes (at most %d)", ErrExportFormat, h.Size, int64(MaxExportSize))
	}
	return nil
}

// Export writes to w a copy of the vault for another device: the format
// line, the header (hdr, with Size set here) and the database, which holds
// everything the vault does but the device key: a new device makes its
// own (Import). The copy is made from one read transaction, compacted
// twice so that the file holds no freed page with the device key in it;
// its temporary files are beside the vault, mode 0600, and removed. The
// caller encrypts w: the database holds the master secret.
func (h *Handle) Export(w io.Writer, hdr ExportHeader) error {
	dir, base := filepath.Split(h.path)
	// Left by an export that was killed; the vault is held by this
	// handle, so no other export of it is running.
	removeStale(h.path + ".export-*")
	snap, err := tempPath(dir, base+".export-*")
	if err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	defer os.Remove(snap)
	bare, err := tempPath(dir, base+".export-*")
	if err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	defer os.Remove(bare)
	if err := h.writable(); err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	if err := compactTo(snap, h.db, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Delete([]byte(metaDeviceKey))
	}); err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	src, err := bolt.Open(snap, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	err = compactTo(bare, src, nil)
	if cerr := src.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	return writeExport(w, bare, hdr)
}

// removeStale removes the files that pattern matches: temporary files of
// an export or import that was killed, which hold the vault's secrets.
func removeStale(pattern string) {
	stale, _ := filepath.Glob(pattern)
	for _, f := range stale {
		os.Remove(f)
	}
}

// tempPath makes an empty file, mode 0600, from pattern in dir and
// returns its name.
func tempPath(dir, pattern string) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// compactTo copies the live data of src into a new database at path (an
// empty file), then runs after on it, if not nil, in one transaction.
func compactTo(path string, src *bolt.DB, after func(*bolt.Tx) error) error {
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = bolt.Compact(dst, src, 0)
	if err == nil && after != nil {
		err = dst.Update(after)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeExport(w io.Writer, db string, hdr ExportHeader) error {
	f, err := os.Open(db)
	if err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	hdr.Size, hdr.Created = info.Size(), hdr.Created.UTC()
	if err := hdr.check(); err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	line, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	if _, err := fmt.Fprintf(w, "%s\n%s\n", ExportFormat, line); err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("export vault: %w", err)
	}
	return nil
}

// ReadExportHeader reads the format line and the header of an export
// from r, and checks them: at most 4 KiB of header, a known format, every
// field within its bounds. r is left at the database.
func ReadExportHeader(r *bufio.Reader) (*ExportHeader, error) {
	format, err := readCappedLine(r, len(ExportFormat)+1)
	if err != nil || format != ExportFormat {
		return nil, fmt.Errorf("%w: it does not start with %q", ErrExportFormat, ExportFormat)
	}
	line, err := readCappedLine(r, maxExportHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: the header is missing or too long", ErrExportFormat)
	}
	var hdr ExportHeader
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil || dec.More() {
		return nil, fmt.Errorf("%w: the header is not valid JSON", ErrExportFormat)
	}
	if err := hdr.check(); err != nil {
		return nil, err
	}
	return &hdr, nil
}

// readCappedLine reads one line of at most limit bytes, newline included,
// and returns it without the newline.
func readCappedLine(r *bufio.Reader, limit int) (string, error) {
	var b []byte
	for len(b) < limit {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", errors.New("line too long")
}

// Import makes a new vault at path from an export read from r (already
// decrypted), with deviceKey as its device key: the export's database is
// copied beside path, given the key, checked in full (Verify) and linked
// into place whole, as Create does; it refuses a path where a vault, or a
// request journal, exists (ErrExists). An export that is damaged, of
// another size than its header says, or not a vault is refused
// (ErrExportFormat, ErrCorrupt), and nothing is left behind. admit, when
// not nil, is called with the header once it is read and checked, before
// anything is written; its error ends the import.
func Import(path string, r io.Reader, deviceKey []byte, admit func(*ExportHeader) error) (*ExportHeader, error) {
	if err := supported(); err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	if err := checkDeviceKey(deviceKey); err != nil {
		return nil, fmt.Errorf("import vault: %w: %w", ErrInvalid, err)
	}
	br := bufio.NewReader(r)
	hdr, err := ReadExportHeader(br)
	if err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	if err := free(path); err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	if admit != nil {
		if err := admit(hdr); err != nil {
			return nil, err
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	// Left by an import of this path that was killed: no vault is made
	// from them.
	removeStale(path + ".import-*")
	tmp, err := tempPath(dir, filepath.Base(path)+".import-*")
	if err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	defer os.Remove(tmp)
	if err := copyDatabase(tmp, br, hdr.Size); err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	if err := giveDeviceKey(tmp, hdr.User, deviceKey); err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("import vault: %s %w", path, ErrExists)
	} else if err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		return nil, fmt.Errorf("import vault: %w", err)
	}
	return hdr, atomicfile.SyncDir(dir)
}

// free refuses a path where a vault or its request journal exists.
func free(path string) error {
	for _, p := range []string{path, journalPath(path)} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s %w", p, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// copyDatabase copies exactly size bytes of r to the file at path, and
// refuses an export with fewer or more.
func copyDatabase(path string, r io.Reader, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.CopyN(f, r, size)
	if err == nil {
		var one [1]byte
		if m, _ := io.ReadFull(r, one[:]); m != 0 {
			err = fmt.Errorf("%w: more data than the header says", ErrExportFormat)
		}
	} else if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: the database is cut short (%d of %d bytes)", ErrExportFormat, n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// giveDeviceKey writes deviceKey into the database at path, which must be
// an export's (no device key yet), then opens it as a vault and checks it
// whole, and that it is user's.
func giveDeviceKey(path, user string, deviceKey []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	db, err := openDB(path, info, 0)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		switch {
		case meta == nil:
			return fmt.Errorf("%w: it has no bucket %q", ErrCorrupt, bucketMeta)
		case meta.Get([]byte(metaDeviceKey)) != nil:
			return fmt.Errorf("%w: the export holds a device key", ErrExportFormat)
		}
		return meta.Put([]byte(metaDeviceKey), deviceKey)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	h, err := open(path, 0)
	if err != nil {
		return err
	}
	defer h.Close()
	defer h.v.Wipe()
	if err := h.Verify(); err != nil {
		return err
	}
	if h.v.User != user {
		return fmt.Errorf("%w: the header's user is not the vault's", ErrExportFormat)
	}
	return nil
}

// Path is the vault's file.
func (h *Handle) Path() string { return h.path }
