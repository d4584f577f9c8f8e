package vault

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/custos-network/custos/threshold"
)

// Format is the value of the first field of every vault file that this
// build reads and writes: the format's name and version.
const Format = formatName + "3"

const formatName = "custos-vault/"

// preLoginV2 are the formats of the builds before login v2: their vaults
// hold no dealing of an OPRF key, and nodes of this version do not take
// their logins (docs/vault.md, "Versions").
var preLoginV2 = []string{formatName + "1", formatName + "2"}

// MaxFileSize is the largest vault file that Open reads, in bytes.
const MaxFileSize = 64 << 20

// file is the vault file. Its field order is the file's key order, so
// "format" comes first.
type file struct {
	Format         string                `json:"format"`
	User           string                `json:"user"`
	Network        []byte                `json:"network"`
	DeviceKey      []byte                `json:"device_key"`
	MasterSecret   []byte                `json:"master_secret"`
	PasswordKDF    threshold.PasswordKDF `json:"password_kdf"`
	Login          *Login                `json:"login,omitempty"`
	PasswordChange *PasswordChange       `json:"password_change,omitempty"`
	Units          []Unit                `json:"units"`
	PendingDeletes []PendingDelete       `json:"pending_deletes"`
	Receipts       []Receipt             `json:"receipts"`
	Checkpoints    []NodeCheckpoint      `json:"checkpoints"`
	Restores       []Restore             `json:"restores"`
}

// encode writes the vault as a file of this version, units in label order
// and times in UTC. It does not check the vault. The caller clears the result,
// which holds the secrets.
func encode(v *Vault) ([]byte, error) {
	f := file{
		Format:         Format,
		User:           v.User,
		Network:        v.Network,
		DeviceKey:      v.DeviceKey,
		MasterSecret:   v.MasterSecret,
		PasswordKDF:    v.PasswordKDF,
		Login:          v.Login,
		PasswordChange: v.PasswordChange,
		Units:          make([]Unit, 0, len(v.Units)),
		PendingDeletes: make([]PendingDelete, 0, len(v.PendingDeletes)),
		Receipts:       make([]Receipt, 0, len(v.Receipts)),
		Checkpoints:    make([]NodeCheckpoint, 0, len(v.Checkpoints)),
		Restores:       make([]Restore, 0, len(v.Restores)),
	}
	for _, u := range v.Units {
		u.Created, u.Updated = u.Created.UTC(), u.Updated.UTC()
		f.Units = append(f.Units, u)
	}
	slices.SortStableFunc(f.Units, func(a, b Unit) int { return strings.Compare(a.Label, b.Label) })
	f.PendingDeletes = append(f.PendingDeletes, v.PendingDeletes...)
	f.Receipts = append(f.Receipts, v.Receipts...)
	f.Checkpoints = append(f.Checkpoints, v.Checkpoints...)
	for _, r := range v.Restores {
		r.Accepted = r.Accepted.UTC()
		f.Restores = append(f.Restores, r)
	}
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode vault: %w", err)
	}
	out := make([]byte, len(b)+1)
	copy(out, b)
	out[len(b)] = '\n'
	clear(b)
	return out, nil
}

// decode reads and checks a vault file. Errors match ErrUnknownFormat or
// ErrCorrupt. The caller still owns, and clears, b.
func decode(b []byte) (*Vault, error) {
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: it is larger than %d MiB", ErrCorrupt, MaxFileSize>>20)
	}
	if !utf8.Valid(b) {
		// encoding/json would read invalid bytes as U+FFFD, silently.
		return nil, fmt.Errorf("%w: it is not valid UTF-8", ErrCorrupt)
	}
	format, err := readFormat(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	switch {
	case format == Format:
	case slices.Contains(preLoginV2, format):
		return nil, fmt.Errorf("%w %q: it was made for login v1, which the nodes no longer take; make a new vault with custos init and enroll it", ErrUnknownFormat, format)
	default:
		if n, err := strconv.Atoi(strings.TrimPrefix(format, formatName)); err == nil && n > 3 && strings.HasPrefix(format, formatName) {
			return nil, fmt.Errorf("%w %q: a newer custos wrote it (this one reads %q)", ErrUnknownFormat, format, Format)
		}
		return nil, fmt.Errorf("%w %q (this build reads %q)", ErrUnknownFormat, clip(format), Format)
	}
	v, err := decodeFile(b)
	if err != nil {
		return nil, err
	}
	for i := range v.Units {
		u := &v.Units[i]
		u.Created, u.Updated = u.Created.UTC(), u.Updated.UTC()
	}
	for i := range v.Restores {
		v.Restores[i].Accepted = v.Restores[i].Accepted.UTC()
	}
	if err := v.check(); err != nil {
		v.Wipe()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	for i := 1; i < len(v.Units); i++ {
		if v.Units[i-1].Label >= v.Units[i].Label {
			v.Wipe()
			return nil, fmt.Errorf("%w: units[%d] is out of label order", ErrCorrupt, i)
		}
	}
	return v, nil
}

// decodeFile checks b's shape against the file's and decodes it. On a
// failure it clears the secrets of the half-decoded file.
func decodeFile(b []byte) (*Vault, error) {
	if err := checkShape(b, reflect.TypeFor[file]()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	var f file
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		// checkShape has seen every value, so this is not expected; the
		// decoder's message may quote the file, so it is not passed on.
		clear(f.DeviceKey)
		clear(f.MasterSecret)
		f.Login.wipe()
		return nil, fmt.Errorf("%w: a value is malformed", ErrCorrupt)
	}
	v := &Vault{
		User:           f.User,
		Network:        f.Network,
		DeviceKey:      f.DeviceKey,
		MasterSecret:   f.MasterSecret,
		PasswordKDF:    f.PasswordKDF,
		Login:          f.Login,
		PasswordChange: f.PasswordChange,
	}
	if len(f.Units) > 0 {
		v.Units = f.Units
	}
	if len(f.PendingDeletes) > 0 {
		v.PendingDeletes = f.PendingDeletes
	}
	if len(f.Receipts) > 0 {
		v.Receipts = f.Receipts
	}
	if len(f.Checkpoints) > 0 {
		v.Checkpoints = f.Checkpoints
	}
	if len(f.Restores) > 0 {
		v.Restores = f.Restores
	}
	return v, nil
}

// readFormat returns the value of the document's first key, which must be
// "format". It reads no further, so that a file of another version is told
// apart before its other fields are looked at.
func readFormat(b []byte) (string, error) {
	notVault := errors.New("not a vault file: it does not start with its format")
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return "", notVault
	}
	if t, err := d.Token(); err != nil || t != "format" {
		return "", notVault
	}
	t, err := d.Token()
	if err != nil {
		return "", notVault
	}
	s, ok := t.(string)
	if !ok {
		return "", errors.New("the format is not a string")
	}
	return s, nil
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	byteSlice       = reflect.TypeFor[[]byte]()
)

// checkShape reads the JSON document in b against the Go type t it is to
// be decoded into, more strictly than encoding/json: every object has
// exactly the keys of its struct, each once and spelled exactly (omitempty
// ones may be left out), no value is null, every value has the type and
// range of its field, and nothing follows the document. Its messages name
// the field by its path in the file and never quote a value.
func checkShape(b []byte, t reflect.Type) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := walk(d, t, ""); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("there is more after the vault's closing brace")
	}
	return nil
}

func walk(d *json.Decoder, t reflect.Type, at string) error {
	tok, err := d.Token()
	if err != nil {
		return tokenError(err)
	}
	name := at
	if name == "" {
		name = "the vault"
	}
	if tok == nil {
		return fmt.Errorf("%s is null", name)
	}
	if t.Kind() == reflect.Pointer {
		// An optional object (omitempty): when present, it is whole.
		t = t.Elem()
	}
	if isLeaf(t) {
		return checkLeaf(tok, t, name)
	}
	switch t.Kind() {
	case reflect.Slice:
		if tok != json.Delim('[') {
			return fmt.Errorf("%s is not a list", name)
		}
		for i := 0; d.More(); i++ {
			if err := walk(d, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if tok != json.Delim('{') {
			return fmt.Errorf("%s is not an object", name)
		}
		fields := jsonFields(t)
		seen := make(map[string]bool, len(fields))
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return tokenError(err)
			}
			key := k.(string) // the decoder gives object keys as strings
			f, ok := fields[key]
			switch {
			case !ok:
				return fmt.Errorf("%s has an unknown field %q", name, clip(key))
			case seen[key]:
				return fmt.Errorf("%s has the field %q twice", name, key)
			}
			seen[key] = true
			if err := walk(d, f.typ, join(at, key)); err != nil {
				return err
			}
		}
		for _, key := range slices.Sorted(maps.Keys(fields)) {
			if !seen[key] && !fields[key].optional {
				return fmt.Errorf("%s has no field %q", name, key)
			}
		}
	default:
		panic("vault: internal error: the format has a field of kind " + t.Kind().String())
	}
	_, err = d.Token() // the closing ] or }, which the decoder has checked
	return tokenError(err)
}

// checkLeaf checks a value that is not a list or an object. The string of a
// byte field may be a secret: it is decoded only to be checked, and cleared.
func checkLeaf(tok json.Token, t reflect.Type, name string) error {
	if _, ok := tok.(json.Delim); ok {
		return fmt.Errorf("%s is a list or an object", name)
	}
	s, isString := tok.(string)
	switch {
	case t == byteSlice:
		if !isString {
			return fmt.Errorf("%s is not a base64 string", name)
		}
		src := []byte(s)
		buf := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		_, err := base64.StdEncoding.Decode(buf, src)
		clear(buf)
		clear(src)
		if err != nil {
			return fmt.Errorf("%s is not valid base64", name)
		}
	case reflect.PointerTo(t).Implements(textUnmarshaler):
		if !isString {
			return fmt.Errorf("%s is not a string", name)
		}
		if reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)) != nil {
			return fmt.Errorf("%s is not %s", name, textForm(t))
		}
	case t.Kind() == reflect.String:
		if !isString {
			return fmt.Errorf("%s is not a string", name)
		}
	case t.Kind() == reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return fmt.Errorf("%s is not true or false", name)
		}
	case isInt(t.Kind()) || isUint(t.Kind()):
		n, ok := tok.(json.Number)
		if !ok {
			return fmt.Errorf("%s is not a number", name)
		}
		var err error
		if isInt(t.Kind()) {
			_, err = strconv.ParseInt(string(n), 10, t.Bits())
		} else {
			_, err = strconv.ParseUint(string(n), 10, t.Bits())
		}
		if err != nil {
			return fmt.Errorf("%s is not a whole number from %s", name, numberRange(t))
		}
	default:
		panic("vault: internal error: the format has a value of kind " + t.Kind().String())
	}
	return nil
}

// textForm says what a value held as text looks like.
func textForm(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[threshold.UnitID]():
		return "a unit ID (32 hexadecimal digits)"
	case reflect.TypeFor[threshold.Commitment]():
		return "a commitment (64 hexadecimal digits)"
	case reflect.TypeFor[time.Time]():
		return "an RFC 3339 time"
	}
	return "a valid " + t.String()
}

func numberRange(t reflect.Type) string {
	if isInt(t.Kind()) {
		return fmt.Sprintf("%d to %d", int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1)
	}
	return fmt.Sprintf("0 to %d", uint64(1)<<(t.Bits()-1)*2-1)
}

func isInt(k reflect.Kind) bool { return reflect.Int <= k && k <= reflect.Int64 }

func isUint(k reflect.Kind) bool { return reflect.Uint <= k && k <= reflect.Uint64 }

// isLeaf reports whether values of type t are JSON strings, numbers or
// booleans.
func isLeaf(t reflect.Type) bool {
	if t == byteSlice || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return true
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		panic("vault: internal error: the format has a field with its own JSON decoding: " + t.String())
	}
	return t.Kind() != reflect.Slice && t.Kind() != reflect.Struct
}

type jsonField struct {
	typ      reflect.Type
	optional bool
}

// jsonFields lists the JSON keys of a struct as encoding/json names them.
func jsonFields(t reflect.Type) map[string]jsonField {
	m := make(map[string]jsonField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		m[name] = jsonField{typ: f.Type, optional: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return m
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// tokenError describes a syntax error without quoting the file.
func tokenError(err error) error {
	var syn *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the file ends in the middle of the vault (truncated?)")
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON (at byte %d)", syn.Offset)
	}
	return errors.New("not valid JSON")
}
