// Package buildinfo says which build of custos or custosd is running, for
// their --version: the module version, the commit it was built from and
// the Go that built it, as the Go toolchain records them in the binary.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what the binary records of its build. A field the toolchain did
// not record (a build outside a VCS checkout, go run) is empty.
type Info struct {
	Go       string `json:"go"`       // the Go version, e.g. go1.26.0
	Modified bool   `json:"modified"` // the work tree had uncommitted changes
	Platform string `json:"platform"` // GOOS/GOARCH
	Revision string `json:"revision"` // the VCS commit
	Time     string `json:"time"`     // the commit's time, RFC 3339
	Version  string `json:"version"`  // the module version, "(devel)" for a build from a checkout
}

// Read returns the running binary's build information.
func Read() Info {
	info := Info{Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Version: "(unknown)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// Text is info as --version prints it for a person: the program and its
// version on the first line, then the commit and the Go that built it.
func (info Info) Text(program string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", program, info.Version)
	if info.Revision != "" {
		rev := info.Revision
		if info.Time != "" {
			rev += " (" + info.Time + ")"
		}
		if info.Modified {
			rev += ", with uncommitted changes"
		}
		fmt.Fprintf(&b, "commit   %s\n", rev)
	}
	fmt.Fprintf(&b, "built by %s for %s\n", info.Go, info.Platform)
	return b.String()
}
