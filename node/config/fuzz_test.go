package config

import (
	"reflect"
	"testing"
)

// FuzzParse feeds Load's parser arbitrary bytes. It must never panic, every
// refusal must be FieldErrors, and whatever it accepts must be valid and
// come back unchanged through the writer.
func FuzzParse(f *testing.F) {
	example, err := encode(Default("example"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("version: 1\nname: a\nlisten: [/ip4/1.2.3.4/tcp/1]\nauditors: [" + auditorA + "]\n"))
	f.Add([]byte("version: 1\nname: a\nlimits: {unit_releases: {burst: 2, every: 1h}}\n"))
	f.Add([]byte("version: 1\nname: a\nhttp: &a x\nlog: *a\n"))
	f.Add([]byte("version: 1\n---\nname: b\n"))
	f.Add([]byte("{version: 1, name: \"\\x00\"}"))
	f.Add([]byte("version: 1\nname: a\nauth:\n  session_idle: 1e3h\n"))
	f.Add([]byte(""))
	f.Add([]byte("version: 1\nname: a\nstorage_key: {credential: custos-storage-key}\n"))
	f.Add([]byte("version: 1\nname: a\nstorage_key:\n  command: [/usr/bin/kms, --id, \"1\"]\n"))
	f.Add([]byte("version: 1\nname: a\nstorage_key: storage.key\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("parse returned a Config with its error")
			}
			if len(Problems(err)) == 0 {
				t.Fatalf("error without a *FieldError: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parse accepted an invalid config: %v", err)
		}
		out, err := encode(*c)
		if err != nil {
			t.Fatalf("cannot write what parse accepted: %v", err)
		}
		back, err := parse(out)
		if err != nil {
			t.Fatalf("what the writer wrote does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", *c, *back)
		}
	})
}
