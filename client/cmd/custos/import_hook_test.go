package main

import (
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
)

// In this test binary alone, CUSTOS_TEST_KILL_AFTER=import@STEP makes
// custos vault import kill itself with SIGKILL as soon as STEP
// (client.ImportStep: recorded, vault, added, revoked) is durable.
func init() {
	step, ok := strings.CutPrefix(os.Getenv("CUSTOS_TEST_KILL_AFTER"), "import@")
	if !ok {
		return
	}
	importStepHook = func(s client.ImportStep) {
		if string(s) == step {
			killSelf()
		}
	}
}

// killSelf kills this process with SIGKILL: a client killed at an
// instruction, nothing deferred runs.
func killSelf() {
	self, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = self.Kill()
	}
	if err != nil {
		panic("the test hook could not kill custos: " + err.Error())
	}
	time.Sleep(time.Minute) // SIGKILL is on its way
}

// cmdDeviceID sets the variable NAME to the device ID of the vault at
// PATH: deviceid NAME PATH.
func cmdDeviceID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: deviceid NAME VAULT")
	}
	h, err := vault.Open(ts.MkAbs(args[1]))
	ts.Check(err)
	defer h.Close()
	key, err := crypto.UnmarshalPrivateKey(h.Vault().DeviceKey)
	ts.Check(err)
	id, err := peer.IDFromPrivateKey(key)
	ts.Check(err)
	ts.Setenv(args[0], id.String())
}
