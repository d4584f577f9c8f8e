package agent

import (
	"errors"
	"slices"

	"github.com/custos-network/custos/client"
)

var (
	// ErrLocked: the agent runs but is not unlocked. Its message is what a
	// process that asked it tells the user, whole.
	ErrLocked = errors.New("locked: run custos unlock")
	// ErrNoAgent: no agent answers at the socket (none was started, or it
	// ended, or it was killed and left its socket behind).
	ErrNoAgent = errors.New("agent: none runs for this vault")
	// ErrRunning: Listen found another agent serving the vault.
	ErrRunning = errors.New("agent: one runs for this vault already")
	// ErrOtherUser: a peer of the socket runs as another user.
	ErrOtherUser = errors.New("agent: the socket's peer is another user")
	// ErrUnsafeDir: the socket's directory may be entered by others, or is
	// not the user's own.
	ErrUnsafeDir = errors.New("agent: the socket's directory is not private")
)

// Error is an operation's failure as the agent reports it: the message the
// agent's client gave, the exit code, stable name and hint custos gives it
// (Config.Describe), and the kinds of error it matches (see Is).
type Error struct {
	Message string   `json:"message"`
	Code    int      `json:"code"`
	Name    string   `json:"name,omitempty"`
	Hint    string   `json:"hint,omitempty"`
	Kinds   []string `json:"kinds,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// kinds are the errors a caller may branch on, by their name on the wire.
var kinds = []struct {
	name string
	err  error
}{
	{"agent_locked", ErrLocked},
	{"rate_limited", client.ErrRateLimited},
	{"not_found", client.ErrNotFound},
	{"exists", client.ErrExists},
	{"wrong_password", client.ErrWrongPassword},
	{"account_locked", client.ErrLocked},
	{"not_enough_custodians", client.ErrNotEnoughCustodians},
	{"damaged_record", client.ErrDamagedRecord},
}

// Is reports whether the agent's error matched target there: ErrLocked,
// or one of client's ErrRateLimited, ErrNotFound, ErrExists,
// ErrWrongPassword, ErrLocked, ErrNotEnoughCustodians, ErrDamagedRecord.
func (e *Error) Is(target error) bool {
	for _, k := range kinds {
		if k.err == target {
			return slices.Contains(e.Kinds, k.name)
		}
	}
	return false
}

// kindsOf names the kinds err matches.
func kindsOf(err error) []string {
	var names []string
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			names = append(names, k.name)
		}
	}
	return names
}
