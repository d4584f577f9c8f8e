package main

import (
	"os"
	"time"

	"github.com/custos-network/custos/client"
)

// In this test binary alone, which the scripts run as custos,
// CUSTOS_TEST_KILL_AFTER=STEP@NODE makes custos passwd kill itself with
// SIGKILL as soon as NODE took STEP (staged, committed, aborted) of a
// password change, before the vault records it; NODE "all" is the change
// as a whole taking it, once the vault recorded it. It is a client killed
// between nodes: nothing deferred runs.
func init() {
	at := os.Getenv("CUSTOS_TEST_KILL_AFTER")
	if at == "" {
		return
	}
	passwdStepHook = func(p client.PasswdProgress) {
		node := p.Node
		if node == "" {
			node = "all"
		}
		if string(p.Step)+"@"+node != at {
			return
		}
		self, err := os.FindProcess(os.Getpid())
		if err == nil {
			err = self.Kill()
		}
		if err != nil {
			panic("the test hook could not kill custos: " + err.Error())
		}
		time.Sleep(time.Minute) // SIGKILL is on its way

	}
}
