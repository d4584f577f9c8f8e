package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/custos-network/custos/client/vault"
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

// MaxUsernameLen is the longest username a record may hold, in bytes.
const MaxUsernameLen = 256

// ValidUsername reports whether u can be a record's username: empty, or up
// to MaxUsernameLen bytes of UTF-8 whose every character is printable
// (letters, marks, digits, punctuation, symbols and the ASCII space; no
// control or format character, so no newline), with no space at either
// end: the rule of labels (vault.ValidLabel), except that a record may have
// no username. Output then shows a username on one line, as it is.
func ValidUsername(u string) bool {
	if u == "" {
		return true
	}
	if len(u) > MaxUsernameLen || !utf8.ValidString(u) || u[0] == ' ' || u[len(u)-1] == ' ' {
		return false
	}
	for _, r := range u {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Validate checks the record's fields: the username (ValidUsername). The
// password may be any bytes.
func (r *Record) Validate() error {
	if !ValidUsername(r.Username) {
		return fmt.Errorf("the username is not valid: up to %d printable characters (no newline or other control character), no space at either end", MaxUsernameLen)
	}
	return nil
}

// CheckPut checks, on this device alone, what Put would refuse before it
// asks any node: the label (vault.ValidLabel) is valid and free, and rec
// is valid (Validate). It needs no unlock, so a caller can check before it
// asks for the password.
func (c *Client) CheckPut(label string, rec *Record) error {
	if !vault.ValidLabel(label) {
		return fmt.Errorf("%q is not a valid label: 1 to %d printable characters, no space at either end", label, vault.MaxLabelLen)
	}
	if err := rec.Validate(); err != nil {
		return err
	}
	_, ok, err := c.Unit(label)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%q: %w", label, ErrExists)
	}
	return nil
}

// Unit describes the record label, without its secret, and reports whether
// the vault has it. It needs no unlock and asks no node.
func (c *Client) Unit(label string) (Unit, bool, error) {
	u, ok, err := c.vh.Describe(label)
	if err != nil || !ok {
		return Unit{}, false, err
	}
	return Unit{Label: u.Label, ID: u.ID, Version: u.Version, Threshold: u.Threshold, Nodes: len(u.Nodes), Degraded: u.Degraded, Created: u.Created}, true, nil
}

// Check checks the record label locally, as Get does before it asks any
// node: ErrNotFound if the vault has no such record, ErrDamagedRecord if
// its fields do not match their MAC. It needs no login.
func (c *Client) Check(label string) error {
	_, err := c.units([]string{label})
	return err
}

// Placement names the nodes that acknowledged storing their share of the
// record label's current version, and those that did not (a degraded
// record's), in dealing order.
func (c *Client) Placement(label string) (stored, missing []string, err error) {
	u, ok, err := c.vh.Describe(label)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("%q: %w", label, ErrNotFound)
	}
	for _, n := range u.Nodes {
		if n.Stored {
			stored = append(stored, n.Name)
		} else {
			missing = append(missing, n.Name)
		}
	}
	return stored, missing, nil
}

// Wipe is best effort: Go strings cannot be overwritten, so it drops the
// references for the collector.
func (r *Record) Wipe() { r.Username, r.Password = "", "" }
