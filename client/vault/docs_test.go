package vault

import (
	"bytes"
	"encoding/base64"
	"os"
	"testing"
)

// The example in docs/vault.md is a valid vault, written exactly as custos
// writes it, and its network field is the YAML shown beside it.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/vault.md")
	if err != nil {
		t.Fatal(err)
	}
	example := fenced(t, doc, "```json\n")
	v, err := decode(example)
	if err != nil {
		t.Fatalf("the documented example does not decode: %v", err)
	}
	defer v.Wipe()
	if again := mustEncode(t, v); !bytes.Equal(again, example) {
		t.Errorf("the documented example is not in the form custos writes")
	}
	if yaml := fenced(t, doc, "```yaml\n"); !bytes.Equal(v.Network, yaml) {
		t.Errorf("the documented network file is not the example's network field:\n%s", base64.StdEncoding.EncodeToString(yaml))
	}
	// The example's MACs are known answers of the documented constructions.
	if v.Login == nil || v.CheckLogin() != nil || !bytes.Equal(v.Login.MAC, specLoginMAC(v.MasterSecret, v.Login)) {
		t.Errorf("the documented login dealing does not carry the MAC docs/vault.md specifies")
	}
	for i := range v.Units {
		u := &v.Units[i]
		if err := v.CheckUnit(u); err != nil || !bytes.Equal(u.MAC, specUnitMAC(v.MasterSecret, u)) {
			t.Errorf("the documented unit %q does not carry the MAC docs/vault.md specifies (%v)", u.Label, err)
		}
	}
}

// The journal example in docs/vault.md is a valid journal, written exactly
// as custos writes it, and records the request of the example's receipt.
func TestDocumentedJournal(t *testing.T) {
	doc, err := os.ReadFile("../../docs/vault.md")
	if err != nil {
		t.Fatal(err)
	}
	example := fenced(t, doc, "```text\n")
	j, err := parseJournal(example)
	if err != nil {
		t.Fatalf("the documented journal does not parse: %v", err)
	}
	if !bytes.Equal(j.encode(), example) {
		t.Errorf("the documented journal is not in the form custos writes")
	}
	v, err := decode(fenced(t, doc, "```json\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Wipe()
	if len(j.reqs) == 0 || j.reqs[0].Node != v.Receipts[0].Node || !bytes.Contains(v.Receipts[0].Entry, j.reqs[0].Nonce) {
		t.Errorf("the documented journal's first request is not the one of the example's receipt")
	}
}

// fenced returns the first code block that opens with fence.
func fenced(t *testing.T, doc []byte, fence string) []byte {
	t.Helper()
	_, rest, ok := bytes.Cut(doc, []byte(fence))
	if !ok {
		t.Fatalf("docs/vault.md has no %q block", fence)
	}
	block, _, ok := bytes.Cut(rest, []byte("```\n"))
	if !ok {
		t.Fatalf("the %q block in docs/vault.md does not end", fence)
	}
	return block
}
