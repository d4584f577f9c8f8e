package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, tmp := range []string{"", path + ".tmp"} {
		for _, content := range []string{"first", "second"} {
			if err := Write(path, tmp, []byte(content)); err != nil {
				t.Fatalf("Write with tmp %q: %v", tmp, err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != content {
				t.Fatalf("after Write with tmp %q: %q, %v; want %q", tmp, b, err, content)
			}
			info, err := os.Stat(path)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, %v; want 0600", info.Mode(), err)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want only the written one", len(entries))
	}
}

func TestWriteLeavesTheFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	path, tmp := filepath.Join(dir, "f"), filepath.Join(dir, "f.tmp")
	if err := Write(path, "", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	// A link planted at the fixed name is not followed.
	target := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, tmp, []byte("lost")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Write over a planted link: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "kept" {
		t.Errorf("the file is %q after a failed Write, want it kept", b)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link's target was written")
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new")
	if err := CreateBytes(path, 0o640, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "first" {
		t.Fatalf("read %q, %v; want first", b, err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v; want 0640", info.Mode(), err)
	}
	if err := CreateBytes(path, 0o600, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("create over an existing file: %v; want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Fatalf("the existing file changed to %q", b)
	}

	// A fill that fails leaves nothing behind.
	failed := filepath.Join(dir, "failed")
	boom := errors.New("boom")
	err := Create(failed, 0o600, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("create with a failing fill: %v; want its error", err)
	}
	if _, err := os.Stat(failed); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed create left a file (%v)", err)
	}
}
