// Package jsonout holds what the --json of custos and custosd share, so
// that both have one shape (docs/client.md, "Conventions for people and
// scripts"): how a command line asks for it, and an error as an object.
package jsonout

// Error is an error under --json: one object on stderr, keys in
// alphabetical order. Code is stable, for scripts to branch on.
type Error struct {
	Code     string `json:"code"`
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
	Hint     string `json:"hint"`
}

// Requested tells whether the command line args ask for --json, before a
// flag parser has read them: an error in parsing them is then reported as
// JSON too. Arguments after "--" are not flags.
func Requested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true", "--json=1":
			return true
		}
	}
	return false
}
