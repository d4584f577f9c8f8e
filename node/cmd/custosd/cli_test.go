package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/node/nodetest"

	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"

	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/config"
)

// TestMain makes the test binary double as custosd inside the scripts of
// testdata/script (testscript.Main replaces the deprecated RunMain), and
// checks that the tests leave no goroutine behind.
func TestMain(m *testing.M) {
	testscript.Main(leakCheck{m}, map[string]func(){"custosd": main})
}

type leakCheck struct{ m *testing.M }

func (l leakCheck) Run() int {
	code := l.m.Run()
	nodetest.RemoveBinary()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left behind: %v\n", err)
			return 1
		}
	}
	return code
}

// TestCLI runs the scripts in testdata/script. Besides testscript's own,
// they have these commands:
//
//	wantexit CODE PROG ARGS...  run PROG and fail unless it exits CODE
//	secretline RE PROG ARGS...  run PROG, which must succeed and print a secret
//	                            matching RE on its last line; the line is not
//	                            logged, the rest of stdout is (for stdout)
//	same FILE1 FILE2            fail unless the files are equal, showing neither
//	perm MODE PATH              fail unless PATH has the permission bits MODE (octal)
//	replace FILE OLD NEW        replace OLD with NEW in FILE, failing if absent
//	waitnode CONFIG             wait until the node of CONFIG answers on its admin socket
//
// secretline and same keep tokens and keys out of the test's output.
func TestCLI(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"wantexit":   cmdWantExit,
			"secretline": cmdSecretLine,
			"same":       cmdSame,
			"perm":       cmdPerm,
			"replace":    cmdReplace,
			"waitnode":   cmdWaitNode,
		},
	})
}

func cmdWantExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: wantexit CODE PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("wantexit: %q is not an exit code", args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[1], args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	err = cmd.Run()
	got := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		got = ee.ExitCode()
	default:
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func cmdSecretLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: secretline RE PROG ARGS...")
	}
	re, err := regexp.Compile("^(?:" + args[0] + ")$")
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[1], args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, ts.Stderr()
	if err := cmd.Run(); err != nil {
		ts.Fatalf("run %s: %v", args[1], err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !re.MatchString(last) {
		ts.Fatalf("the last line of stdout (%d bytes, not shown) does not match %s", len(last), args[0])
	}
	lines[len(lines)-1] = "[secret not shown]"
	fmt.Fprintln(ts.Stdout(), strings.Join(lines, "\n"))
}

func cmdSame(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: same FILE1 FILE2")
	}
	a, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	if !bytes.Equal(a, b) {
		ts.Fatalf("%s and %s differ", args[0], args[1])
	}
}

func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: perm MODE PATH")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("perm: %q is not an octal mode", args[0])
	}
	info, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	if got := info.Mode().Perm(); got != os.FileMode(want) {
		ts.Fatalf("%s has mode %#o, want %#o", args[1], got, want)
	}
}

func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if !strings.Contains(string(b), args[1]) {
		ts.Fatalf("%s does not hold %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(path, []byte(strings.Replace(string(b), args[1], args[2], 1)), 0o600))
}

func cmdWaitNode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitnode CONFIG")
	}
	cfg, err := config.Load(ts.MkAbs(args[0]))
	ts.Check(err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := node.AdminClient(cfg).Status(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("the node of %s did not answer within 30s: %v", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
