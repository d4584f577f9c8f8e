package vault

import (
	"bytes"
	"os"
	"testing"
)

// docs/vault.md names this version, and every bucket and meta key of the
// database in its tables.
func TestDocumentedLayout(t *testing.T) {
	doc, err := os.ReadFile("../../docs/vault.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(doc, []byte("# The local vault ("+Format+")\n")) {
		t.Errorf("docs/vault.md does not name %s in its title", Format)
	}
	for _, b := range allBuckets {
		if !bytes.Contains(doc, []byte("| `"+string(b)+"` |")) {
			t.Errorf("docs/vault.md has no row for the bucket %s", b)
		}
	}
	for _, k := range metaKeys {
		if !bytes.Contains(doc, []byte("| `"+k+"` |")) {
			t.Errorf("docs/vault.md has no row for the meta key %s", k)
		}
	}
}

// The journal example in docs/vault.md is a valid journal, written exactly
// as custos writes it.
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
	if !bytes.Equal(j.encode(), example) || len(j.reqs) == 0 {
		t.Errorf("the documented journal is not in the form custos writes")
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
