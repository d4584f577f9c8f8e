package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	pb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/threshold"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	v := testVault(t)
	b := mustEncode(t, v)
	if !bytes.HasPrefix(b, []byte("{\n  \"format\": \"custos-vault/3\",\n")) {
		t.Fatalf("the file does not start with its format")
	}
	got, err := decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("the vault differs after a round trip")
	}
	if again := mustEncode(t, got); !bytes.Equal(again, b) {
		t.Fatalf("encoding is not stable")
	}
}

func TestEncodeWritesCanonicalForm(t *testing.T) {
	v := testVault(t)
	v.Units[0], v.Units[1] = v.Units[1], v.Units[0]
	v.Units[0].Created = v.Units[0].Created.In(time.FixedZone("", 5*3600))
	got, err := decode(mustEncode(t, v))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Units[0].Label != "acme-portal" || got.Units[1].Label != "bank" {
		t.Errorf("units are not written in label order")
	}
	if got.Units[1].Created.Location().String() != "UTC" || !got.Units[1].Created.Equal(testTime) {
		t.Errorf("times are not written as the same instant in UTC")
	}
	empty := testVault(t)
	empty.Login, empty.Units, empty.PendingDeletes, empty.Receipts, empty.Checkpoints, empty.Restores = nil, nil, nil, nil, nil, nil
	b := mustEncode(t, empty)
	if bytes.Contains(b, []byte(`"login"`)) {
		t.Errorf("a vault without a login dealing writes one")
	}
	for _, key := range []string{"units", "pending_deletes", "receipts", "checkpoints", "restores"} {
		if !bytes.Contains(b, []byte(`"`+key+`": []`)) {
			t.Errorf("an empty %s list is not written as []", key)
		}
	}
	if got, err := decode(b); err != nil || got.Login != nil || got.Units != nil || got.PendingDeletes != nil || got.Receipts != nil || got.Checkpoints != nil || got.Restores != nil {
		t.Errorf("empty lists do not decode to nil (err %v)", err)
	}
}

// damaged lists files that are not valid vaults, each named after the rule
// that refuses it. Each is made from a valid vault, by editing its text or
// by encoding a vault that breaks the rule (encode does not check).
var damaged = []struct {
	name string
	make func(t testing.TB) []byte
}{
	// The file as a whole.
	{"empty file is refused", raw("")},
	{"garbage is refused", func(testing.TB) []byte { b := make([]byte, 512); rand.Read(b); return b }},
	{"a JSON list is refused", raw(`[]`)},
	{"an empty object is refused", raw(`{}`)},
	{"a file not starting with format is refused", edit(`"format": "custos-vault/3",`, ``)},
	{"format must be the first key", edit(`"format": "custos-vault/3",
  "user": "alice@example.org",`, `"user": "alice@example.org",
  "format": "custos-vault/3",`)},
	{"a format that is not a string is refused", raw(`{"format": 1}`)},
	{"truncated file is refused", func(t testing.TB) []byte { b := mustEncode(t, testVault(t)); return b[:len(b)/2] }},
	{"file missing its closing brace is refused", func(t testing.TB) []byte { b := mustEncode(t, testVault(t)); return b[:len(b)-2] }},
	{"data after the vault is refused", func(t testing.TB) []byte { return append(mustEncode(t, testVault(t)), "{}"...) }},
	{"invalid UTF-8 is refused", edit(`"label": "bank"`, "\"label\": \"b\xffnk\"")},
	{"a file over the size cap is refused", func(testing.TB) []byte {
		return append([]byte(`{"format": "custos-vault/3", "user": "`), make([]byte, MaxFileSize)...)
	}},
	// Fields.
	{"unknown field is refused", edit(`"user": `, `"extra": 1,
  "user": `)},
	{"unknown field in a unit is refused", edit(`"degraded": false,`, `"degraded": false, "note": "x",`)},
	{"a field given twice is refused", edit(`"user": "alice@example.org",`, `"user": "alice@example.org",
  "user": "mallory",`)},
	{"a key in another case is refused", edit(`"master_secret":`, `"MASTER_SECRET":`)},
	{"a missing field is refused", edit(`"degraded": false,`, ``)},
	{"a missing stored flag is refused", editRe(`,\s*"stored": true`, ``)},
	{"null is refused", editRe(`"sealed": "[^"]*"`, `"sealed": null`)},
	{"null password_kdf is refused", editRe(`"password_kdf": \{[^}]*\}`, `"password_kdf": null`)},
	{"a string for a bool is refused", edit(`"degraded": false`, `"degraded": "no"`)},
	{"a number out of range is refused", edit(`"threads": 4`, `"threads": 400`)},
	{"a negative version is refused", edit(`"version": 1,`, `"version": -1,`)},
	{"a fractional threshold is refused", edit(`"threshold": 2,`, `"threshold": 2.5,`)},
	{"bad base64 is refused", editRe(`"master_secret": "[^"]*"`, `"master_secret": "!!!!"`)},
	{"a unit ID that is not hex is refused", editRe(`"id": "[0-9a-f]{32}"`, `"id": "not-hex"`)},
	{"a commitment of the wrong length is refused", editRe(`"key_commit": "[0-9a-f]{64}"`, `"key_commit": "abcd"`)},
	{"a time that is not RFC 3339 is refused", editRe(`"created": "[^"]*"`, `"created": "yesterday"`)},
	{"units out of label order are refused", edit(`"label": "acme-portal"`, `"label": "zzz"`)},
	// Values.
	{"bad user name is refused", mutate(func(t testing.TB, v *Vault) { v.User = "alice smith" })},
	{"empty user name is refused", mutate(func(t testing.TB, v *Vault) { v.User = "" })},
	{"empty network file is refused", mutate(func(t testing.TB, v *Vault) { v.Network = []byte{} })},
	{"device key that is not a key is refused", mutate(func(t testing.TB, v *Vault) { v.DeviceKey = bytes.Repeat([]byte{7}, 68) })},
	{"device key of another type is refused", mutate(func(t testing.TB, v *Vault) {
		k, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		v.DeviceKey, _ = crypto.MarshalPrivateKey(k)
	})},
	{"device key in the old 96-byte form is refused", mutate(func(t testing.TB, v *Vault) {
		raw, _ := testPrivKey(t, 1).Raw()
		v.DeviceKey = pbKey(t, append(raw, raw[32:]...))
	})},
	{"device key whose public half is not its own is refused", mutate(func(t testing.TB, v *Vault) {
		raw, _ := testPrivKey(t, 1).Raw()
		other, _ := testPrivKey(t, 2).Raw()
		v.DeviceKey = pbKey(t, append(raw[:32:32], other[32:]...))
	})},
	{"master secret of 31 bytes is refused", mutate(func(t testing.TB, v *Vault) { v.MasterSecret = v.MasterSecret[:31] })},
	{"master secret of 33 bytes is refused", mutate(func(t testing.TB, v *Vault) { v.MasterSecret = append(v.MasterSecret, 1) })},
	{"all-zero master secret is refused", mutate(func(t testing.TB, v *Vault) { v.MasterSecret = make([]byte, 32) })},
	{"Argon2id memory below 64 MiB is refused", mutate(func(t testing.TB, v *Vault) { v.PasswordKDF.Memory = 1024 })},
	{"Argon2id time 0 is refused", mutate(func(t testing.TB, v *Vault) { v.PasswordKDF.Time = 0 })},
	{"Argon2id without threads is refused", mutate(func(t testing.TB, v *Vault) { v.PasswordKDF.Threads = 0 })},
	{"short password salt is refused", mutate(func(t testing.TB, v *Vault) { v.PasswordKDF.Salt = v.PasswordKDF.Salt[:8] })},
	{"duplicate label is refused", mutate(func(t testing.TB, v *Vault) { v.Units[1].Label = v.Units[0].Label })},
	{"duplicate unit ID is refused", mutate(func(t testing.TB, v *Vault) { v.Units[1].ID = v.Units[0].ID })},
	{"label with a leading space is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Label = " acme" })},
	{"label with a control character is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Label = "acme\nportal" })},
	{"label over 128 bytes is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Label = strings.Repeat("a", 129) })},
	{"all-zero unit ID is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].ID = threshold.UnitID{} })},
	{"version 0 is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Version = 0 })},
	{"threshold 1 is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Threshold = 1 })},
	{"threshold above the node count is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Threshold = 4 })},
	{"unit without nodes is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Nodes = []UnitNode{} })},
	{"node listed twice by name is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Nodes[1].Name = "acme" })},
	{"node listed twice by peer ID is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Nodes[1].PeerID = v.Units[0].Nodes[0].PeerID })},
	{"bad node name is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Nodes[0].Name = "Acme Corp" })},
	{"peer ID that is not base58 is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Nodes[0].PeerID = "not-a-peer-id" })},
	{"all-zero share commitment is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Nodes[0].Commitment = threshold.Commitment{} })},
	{"all-zero key commitment is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].KeyCommit = threshold.Commitment{} })},
	{"empty sealed record is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Sealed = []byte{} })},
	{"degraded unit stored everywhere is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].Degraded = true })},
	{"unit missing a share but not degraded is refused", mutate(func(t testing.TB, v *Vault) { v.Units[1].Degraded = false })},
	{"pending delete of version 0 is refused", mutate(func(t testing.TB, v *Vault) { v.PendingDeletes[0].Version = 0 })},
	{"pending delete without nodes is refused", mutate(func(t testing.TB, v *Vault) { v.PendingDeletes[0].Nodes = []string{} })},
	{"pending delete listed twice is refused", mutate(func(t testing.TB, v *Vault) {
		v.PendingDeletes = append(v.PendingDeletes, v.PendingDeletes[0])
	})},
	{"pending delete of a unit's current version is refused", mutate(func(t testing.TB, v *Vault) { v.PendingDeletes[0].Version = 3 })},
	{"pending delete naming a node twice is refused", mutate(func(t testing.TB, v *Vault) {
		v.PendingDeletes[0].Nodes = []string{"cove", "cove"}
	})},
	{"receipt without units is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[0].Units = []UnitRef{} })},
	{"receipt of unit version 0 is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[0].Units[1].Version = 0 })},
	{"receipt of an all-zero unit ID is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[0].Units[0].ID = threshold.UnitID{} })},
	{"receipt from a bad node name is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[0].Node = "Acme Corp" })},
	{"receipt without a checkpoint is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[0].Checkpoint = []byte{} })},
	{"receipt without an entry is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[0].Entry = []byte{} })},
	{"receipt index beyond any log is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[0].Index = 1 << 48 })},
	{"receipt without its entry field is refused", edit(`"entry":`, `"entri":`)},
	{"a requests list is refused: requests are in the journal", editRe(`,\s*"receipts": `, `, "requests": [], "receipts": `)},
	{"more than 1000 receipts are refused", mutate(func(t testing.TB, v *Vault) {
		for i := range MaxReceipts {
			v.Receipts = append(v.Receipts, testReceipt(uint64(i)))
		}
	})},
	{"receipt with unknown evidence is refused", mutate(func(t testing.TB, v *Vault) { v.Receipts[1].Evidence = "lie" })},
	{"receipt without its evidence field is refused", editRe(`,\s*"evidence": ""`, ``)},
	// Units' MACs and the kept checkpoints.
	{"unit without a MAC is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].MAC = []byte{} })},
	{"unit with a short MAC is refused", mutate(func(t testing.TB, v *Vault) { v.Units[0].MAC = v.Units[0].MAC[:16] })},
	{"unit without its mac field is refused", editRe(`,\s*"mac": "[^"]*"`, ``)},
	{"a vault without its checkpoints field is refused", editRe(`,\s*"checkpoints": \[[^\]]*\]`, ``)},
	{"checkpoint of a bad node name is refused", mutate(func(t testing.TB, v *Vault) { v.Checkpoints[0].Node = "Acme Corp" })},
	{"empty checkpoint is refused", mutate(func(t testing.TB, v *Vault) { v.Checkpoints[0].Checkpoint = []byte{} })},
	{"checkpoint over the size cap is refused", mutate(func(t testing.TB, v *Vault) { v.Checkpoints[0].Checkpoint = make([]byte, 4097) })},
	{"two checkpoints of one node are refused", mutate(func(t testing.TB, v *Vault) { v.Checkpoints[1].Node = "acme" })},
	{"checkpoints out of node order are refused", mutate(func(t testing.TB, v *Vault) {
		v.Checkpoints[0], v.Checkpoints[1] = v.Checkpoints[1], v.Checkpoints[0]
	})},
	{"more than 1024 checkpoints are refused", mutate(func(t testing.TB, v *Vault) {
		v.Checkpoints = nil
		for i := range MaxCheckpoints + 1 {
			v.Checkpoints = append(v.Checkpoints, NodeCheckpoint{Node: fmt.Sprintf("n%04d", i), Checkpoint: []byte("c")})
		}
	})},
	// The login dealing.
	{"login with epoch 0 is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Epoch = 0 })},
	{"login with threshold 1 is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Threshold = 1 })},
	{"login threshold above its node count is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Threshold = 4 })},
	{"login of one node is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes, v.Login.Threshold = v.Login.Nodes[:1], 1 })},
	{"login without a MAC is refused", mutate(func(t testing.TB, v *Vault) { v.Login.MAC = []byte{} })},
	{"login node listed twice by name is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[1].Name = "acme" })},
	{"login node listed twice by peer ID is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[1].PeerID = v.Login.Nodes[0].PeerID })},
	{"login node with a bad name is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[0].Name = "Acme Corp" })},
	{"login node with a bad peer ID is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[0].PeerID = "not-a-peer-id" })},
	{"login index 0 is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[0].Index = 0 })},
	{"login indexes out of order are refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[1].Index = 1 })},
	{"login index above 255 is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[2].Index = 256 })},
	{"login public share that is no element is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[0].PublicShare = bytes.Repeat([]byte{0xff}, 32) })},
	{"login public share of the identity is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[0].PublicShare = make([]byte, 32) })},
	{"login public share of 31 bytes is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[0].PublicShare = v.Login.Nodes[0].PublicShare[:31] })},
	{"login key share that is no scalar is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[2].KeyShare = bytes.Repeat([]byte{0xff}, 32) })},
	{"login key share of zero is refused", mutate(func(t testing.TB, v *Vault) { v.Login.Nodes[2].KeyShare = make([]byte, 32) })},
	{"login key share of another public share is refused", mutate(func(t testing.TB, v *Vault) {
		v.Login.Nodes[2].KeyShare = testKeyShare(t, 3, 0x99).Bytes()
	})},
	{"null login is refused", editRe(`"login": \{(?s:.*?)\n  \}`, `"login": null`)},
	{"login without its nodes field is refused", editRe(`,\s*"nodes": \[(?s:.*?)\n    \]`, ``)},
	{"login with an unknown field is refused", edit(`"epoch": 1,`, `"epoch": 1, "staged": 2,`)},
	{"login node with an empty key share is refused", editRe(`"key_share": "[^"]*"`, `"key_share": ""`)},
	{"login node with a null key share is refused", editRe(`"key_share": "[^"]*"`, `"key_share": null`)},
	// The accepted restores.
	{"a vault without its restores field is refused", editRe(`,\s*"restores": \[(?s:.*?)\n  \]`, ``)},
	{"restore of a bad node name is refused", mutate(func(t testing.TB, v *Vault) { v.Restores[0].Node = "Bolt Inc" })},
	{"restore without its replaced checkpoint is refused", mutate(func(t testing.TB, v *Vault) { v.Restores[0].Replaced = []byte{} })},
	{"restore without its checkpoint is refused", mutate(func(t testing.TB, v *Vault) { v.Restores[0].Checkpoint = []byte{} })},
	{"restore with a checkpoint over the size cap is refused", mutate(func(t testing.TB, v *Vault) { v.Restores[0].Replaced = make([]byte, 4097) })},
	{"restore without its entry is refused", mutate(func(t testing.TB, v *Vault) { v.Restores[0].Entry = []byte{} })},
	{"restore index beyond any log is refused", mutate(func(t testing.TB, v *Vault) { v.Restores[0].Index = 1 << 48 })},
	{"restore without its time is refused", mutate(func(t testing.TB, v *Vault) { v.Restores[0].Accepted = time.Time{} })},
	{"restore without its accepted field is refused", editRe(`,\s*"accepted": "[^"]*"`, ``)},
	{"more than 100 restores are refused", mutate(func(t testing.TB, v *Vault) {
		for range MaxRestores {
			v.Restores = append(v.Restores, testRestore())
		}
	})},
}

func raw(s string) func(testing.TB) []byte { return func(testing.TB) []byte { return []byte(s) } }

// edit replaces old, which must be in the valid vault's file, with new.
func edit(old, new string) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		b := mustEncode(t, testVault(t))
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("the test's edit does not apply: %q", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

func editRe(re, new string) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		b := mustEncode(t, testVault(t))
		r := regexp.MustCompile(re)
		if !r.Match(b) {
			t.Fatalf("the test's edit does not apply: %s", re)
		}
		done := false
		return r.ReplaceAllFunc(b, func(m []byte) []byte {
			if done {
				return m
			}
			done = true
			return []byte(new)
		})
	}
}

func mutate(f func(testing.TB, *Vault)) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		v := testVault(t)
		f(t, v)
		return mustEncode(t, v)
	}
}

// pbKey wraps raw Ed25519 key bytes in libp2p's protobuf, unchecked.
func pbKey(t testing.TB, raw []byte) []byte {
	b, err := proto.Marshal(&pb.PrivateKey{Type: pb.KeyType_Ed25519.Enum(), Data: raw})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRefusesDamagedFiles(t *testing.T) {
	for _, tc := range damaged {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(tc.make(t))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode: got %v, want ErrCorrupt", err)
			}
			noSecrets(t, testVault(t), "the error", err.Error())
		})
	}
}

func TestDecodeRefusesUnknownFormats(t *testing.T) {
	for _, tc := range []struct{ name, format, inMessage string }{
		{"a later version is named", "custos-vault/4", `"custos-vault/4": a newer custos wrote it`},
		{"version 2 is made for login v1", "custos-vault/2", `"custos-vault/2": it was made for login v1`},
		{"version 1 is made for login v1", "custos-vault/1", `"custos-vault/1": it was made for login v1`},
		{"version 0 is named", "custos-vault/0", `"custos-vault/0"`},
		{"another format is named", "age-encryption.org/v1", `"age-encryption.org/v1"`},
		{"a long format is clipped", strings.Repeat("x", 10000), "xxx…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := edit(`"custos-vault/3"`, `"`+tc.format+`"`)(t)
			_, err := decode(b)
			if !errors.Is(err, ErrUnknownFormat) || errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode: got %v, want ErrUnknownFormat", err)
			}
			if !strings.Contains(err.Error(), tc.inMessage) || len(err.Error()) > 200 {
				t.Errorf("the error does not name the format found, briefly: %v", err)
			}
		})
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	for _, tc := range []struct {
		name string
		file func(testing.TB) []byte
		want string
	}{
		{"missing field is named with its path", editRe(`,\s*"stored": true`, ``), `units[0].nodes[0] has no field "stored"`},
		{"unknown field is named", edit(`"user": `, `"extra": 1, "user": `), `unknown field "extra"`},
		{"bad threshold names the unit", mutate(func(t testing.TB, v *Vault) { v.Units[1].Threshold = 9 }), `unit "bank": threshold 9`},
		{"weak KDF is named", mutate(func(t testing.TB, v *Vault) { v.PasswordKDF.Memory = 1024 }), "password_kdf: Argon2id memory 1024 KiB"},
		{"bad base64 is named without its value", editRe(`"master_secret": "[^"]*"`, `"master_secret": "%%%%"`), "master_secret is not valid base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(tc.file(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error that says %q", err, tc.want)
			}
		})
	}
}
