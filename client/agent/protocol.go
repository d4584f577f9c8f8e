package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/custos-network/custos/client/vault"
)

// Version is the protocol version every frame carries in "v".
const Version = 1

// Frame size caps. A request holds at most MaxLabels labels or one record
// (its password at most MaxSecret bytes); a response may hold many records
// or a long history.
const (
	MaxRequest  = 1 << 20
	MaxResponse = 64 << 20
	MaxLabels   = 1024
	MaxSecret   = 64 << 10
)

// The operations a Server serves.
const (
	OpInfo    = "info"
	OpUnlock  = "unlock"
	OpLock    = "lock"
	OpGet     = "get" // one or more records, in one batch
	OpList    = "ls"
	OpPut     = "put"
	OpDelete  = "rm"
	OpStatus  = "status"
	OpHistory = "history"
)

// errMalformed is every request the server does not understand; the
// message says what is wrong, never a value.
var errMalformed = errors.New("agent: malformed request")

// request is what a client sends. Only the fields of its Op are set.
type request struct {
	V        int      `json:"v"`
	Op       string   `json:"op"`
	Labels   []string `json:"labels,omitempty"`   // get
	Label    string   `json:"label,omitempty"`    // put, rm, history (optional)
	Prefix   string   `json:"prefix,omitempty"`   // ls
	Username string   `json:"username,omitempty"` // put
	Secret   []byte   `json:"secret,omitempty"`   // put: the password; unlock: the vault's password
	MinAcks  int      `json:"min_acks,omitempty"` // put
}

// validate checks r's fields against its Op, before anything is done.
func (r *request) validate() error {
	if r.V != Version {
		return fmt.Errorf("%w: protocol version %d, this agent speaks %d", errMalformed, r.V, Version)
	}
	if len(r.Secret) > MaxSecret {
		return fmt.Errorf("%w: secret longer than %d bytes", errMalformed, MaxSecret)
	}
	switch r.Op {
	case OpInfo, OpLock, OpStatus:
		return nil
	case OpUnlock:
		if len(r.Secret) == 0 {
			return fmt.Errorf("%w: unlock without a password", errMalformed)
		}
		return nil
	case OpGet:
		if len(r.Labels) == 0 || len(r.Labels) > MaxLabels {
			return fmt.Errorf("%w: get takes 1 to %d labels", errMalformed, MaxLabels)
		}
		for _, l := range r.Labels {
			if !vault.ValidLabel(l) {
				return fmt.Errorf("%w: a label is not valid", errMalformed)
			}
		}
		return nil
	case OpList:
		if len(r.Prefix) > vault.MaxLabelLen {
			return fmt.Errorf("%w: prefix longer than a label", errMalformed)
		}
		return nil
	case OpPut, OpDelete, OpHistory:
		if !vault.ValidLabel(r.Label) && (r.Op != OpHistory || r.Label != "") {
			return fmt.Errorf("%w: the label is not valid", errMalformed)
		}
		if r.MinAcks < 0 {
			return fmt.Errorf("%w: negative min_acks", errMalformed)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown operation", errMalformed)
}

// response is what the server answers. Err is set when the operation
// failed; the other fields are those of the request's Op.
type response struct {
	V       int            `json:"v"`
	Err     *Error         `json:"error,omitempty"`
	Info    *Info          `json:"info,omitempty"`
	Records []wireRecord   `json:"records,omitempty"`
	Units   []wireUnit     `json:"units,omitempty"`
	Stored  []string       `json:"stored,omitempty"`
	Missing []string       `json:"missing,omitempty"`
	Status  *Status        `json:"status,omitempty"`
	History []wireHistory  `json:"history,omitempty"`
	Failed  []wireNodeFail `json:"failed,omitempty"`
}

// Info describes a running agent.
type Info struct {
	Vault    string    `json:"vault"`
	PID      int       `json:"pid"`
	Unlocked bool      `json:"unlocked"`
	User     string    `json:"user,omitempty"`
	Device   string    `json:"device,omitempty"` // the vault's device peer ID, once unlocked
	Started  time.Time `json:"started"`
	Ends     time.Time `json:"ends,omitzero"` // once unlocked: when it locks at the latest
	Idle     Duration  `json:"idle"`          // it locks after this long without a request
}

// Duration is a time.Duration that JSON shows as text ("15m0s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

type wireRecord struct {
	Username string `json:"username"`
	Password []byte `json:"password"`
}

type wireUnit struct {
	Label     string    `json:"label"`
	ID        []byte    `json:"id"`
	Version   uint64    `json:"version"`
	Threshold int       `json:"threshold"`
	Nodes     int       `json:"nodes"`
	Degraded  bool      `json:"degraded"`
	Created   time.Time `json:"created"`
}

type wireHistory struct {
	Time     time.Time `json:"time"`
	Node     string    `json:"node"`
	Index    uint64    `json:"index"`
	Label    string    `json:"label"`
	UnitID   string    `json:"unit_id"`
	Version  uint64    `json:"version"`
	Released bool      `json:"released"`
	Outcome  int32     `json:"outcome"`
	Reason   string    `json:"reason"`
	Device   string    `json:"device,omitempty"` // peer ID text
	Change   string    `json:"change,omitempty"`
}

type wireNodeFail struct {
	Node  string `json:"node"`
	Error string `json:"error"`
}

// Status is what the agent's client sees of the nodes and the vault.
type Status struct {
	Threshold int          `json:"threshold"` // of the network
	Nodes     []NodeStatus `json:"nodes"`
	Degraded  []string     `json:"degraded"` // labels of records not stored at every node
	Pending   []string     `json:"pending"`  // nodes this device's enrollment has not reached
	Held      bool         `json:"held"`     // the vault holds the pending nodes' login key shares
}

// NodeStatus is client.NodeStatus with its error as text.
type NodeStatus struct {
	Name      string   `json:"name"`
	PeerID    string   `json:"peer_id"`
	Reachable bool     `json:"reachable"`
	LoggedIn  bool     `json:"logged_in"`
	Latency   Duration `json:"latency"`
	Error     string   `json:"error"`
}

// writeFrame writes v as one frame.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	defer clear(b) // it may hold a secret
	frame := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(frame, uint32(len(b)))
	copy(frame[4:], b)
	defer clear(frame)
	_, err = w.Write(frame)
	return err
}

// readFrame reads one frame of at most limit bytes into v.
func readFrame(r io.Reader, limit int, v any) error {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return fmt.Errorf("read frame: %w", err)
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > uint32(limit) {
		return fmt.Errorf("%w: a frame of %d bytes, more than %d", errMalformed, n, limit)
	}
	b := make([]byte, n)
	defer clear(b)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read frame: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: not the JSON of a frame", errMalformed)
	}
	return nil
}
