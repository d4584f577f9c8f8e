package client

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Record is what a unit holds: a vendor username and its password (or any
// secret). It is sealed on the device and never leaves it unsealed.
type Record struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password"`
}

// Format prints a record as [redacted] under every verb, so that one
// passed to a log line, an error or a test failure shows nothing of it.
func (Record) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[redacted]") }

// recordFormat is the first field of every sealed record's plaintext.
const recordFormat = "custos-record/1"

type recordJSON struct {
	Format   string `json:"format"`
	Username string `json:"username,omitempty"`
	Password string `json:"password"`
}

func (r *Record) marshal() ([]byte, error) {
	return json.Marshal(recordJSON{Format: recordFormat, Username: r.Username, Password: r.Password})
}

func parseRecord(b []byte) (*Record, error) {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, errors.New("the record is not in a known format")
	}
	if j.Format != recordFormat {
		return nil, fmt.Errorf("the record's format %q is not known to this build", j.Format)
	}
	return &Record{Username: j.Username, Password: j.Password}, nil
}

// Field returns one field of the record by name: "username" or "password".
func (r *Record) Field(name string) (string, error) {
	switch name {
	case "username":
		return r.Username, nil
	case "password":
		return r.Password, nil
	}
	return "", fmt.Errorf("no field %q; a record has username and password", name)
}

// Wipe is best effort: Go strings cannot be overwritten, so it drops the
// references for the collector.
func (r *Record) Wipe() { r.Username, r.Password = "", "" }
