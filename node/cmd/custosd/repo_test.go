package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestRepoScripts runs the scripts in testdata/repo, which try what the
// README's quick start has a user run from the repository: make install,
// scripts/devnet.sh, make demo. $REPO is the repository. Every node a
// script started with devnet.sh (a pid file under $WORK) is killed when
// the script ends, also when it fails.
func TestRepoScripts(t *testing.T) {
	t.Parallel()
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/repo",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			// go install needs the toolchain's caches and settings.
			for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN", "GONOSUMDB", "GOSUMDB"} {
				if v, err := exec.Command("go", "env", k).Output(); err == nil {
					env.Setenv(k, strings.TrimSpace(string(v)))
				}
			}
			env.Defer(func() { killDevnets(env.WorkDir) })
			return nil
		},
	})
}

// killDevnets kills the process of every pid file of a devnet node under
// dir.
func killDevnets(dir string) {
	pids, _ := filepath.Glob(filepath.Join(dir, "*", "n*", "pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
