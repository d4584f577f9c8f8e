package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

// The text names the program, its version, the commit with its time and
// whether the tree was modified, and the Go that built it.
func TestTextNamesVersionCommitAndGo(t *testing.T) {
	info := Info{Version: "v1.2.3", Revision: "abc123", Time: "2026-11-30T12:00:00Z", Modified: true, Go: "go1.26.0", Platform: "linux/amd64"}
	got := info.Text("custos")
	want := "custos v1.2.3\ncommit   abc123 (2026-11-30T12:00:00Z), with uncommitted changes\nbuilt by go1.26.0 for linux/amd64\n"
	if got != want {
		t.Fatalf("Text:\n%s\nwant:\n%s", got, want)
	}
	if got := (Info{Version: "(devel)", Go: "go1.26.0", Platform: "linux/amd64"}).Text("custosd"); strings.Contains(got, "commit") {
		t.Fatalf("Text without a revision names a commit:\n%s", got)
	}
}

// Read reports the Go version that built the test binary.
func TestReadReportsTheGoVersion(t *testing.T) {
	info := Read()
	if info.Go != runtime.Version() || info.Version == "" {
		t.Fatalf("Read() = %+v, want Go %s and a version", info, runtime.Version())
	}
}
