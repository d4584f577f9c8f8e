package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
)

func mustRequests(t *testing.T, h *Handle) ([]Request, time.Time) {
	t.Helper()
	rs, until, err := h.Requests()
	if err != nil {
		t.Fatalf("Requests: %v", err)
	}
	return rs, until
}

// numbered returns request i of a long run: its nonce holds i, and its time
// is start plus i seconds.
func numbered(i int, start time.Time) Request {
	nonce := make([]byte, api.RequestNonceSize)
	binary.BigEndian.PutUint64(nonce[8:], uint64(i))
	return Request{Node: "cove", Time: start.Add(time.Duration(i) * time.Second), Nonce: nonce}
}

const (
	acmeLine = "acme 2025-03-01T12:30:01.123Z 01010101010101010101010101010101\n"
	boltLine = "bolt 2025-03-01T12:30:02.123Z 02020202020202020202020202020202\n"
	coveLine = "cove 2025-03-01T12:30:03.123Z 03030303030303030303030303030303\n"
)

func TestRequestsRoundTrip(t *testing.T) {
	h, path := openNew(t)
	if rs, until := mustRequests(t, h); rs != nil || !until.IsZero() {
		t.Fatalf("a vault without a journal has requests %v, dropped until %v", rs, until)
	}
	want := []Request{testRequest("acme", 1), testRequest("bolt", 2), testRequest("cove", 3)}
	if err := h.AppendRequests(want[0], want[1]); err != nil {
		t.Fatalf("AppendRequests: %v", err)
	}
	if err := h.AppendRequests(want[2]); err != nil {
		t.Fatalf("AppendRequests: %v", err)
	}
	if got, until := mustRequests(t, h); !reflect.DeepEqual(got, want) || !until.IsZero() {
		t.Fatalf("Requests = %v, %v; want %v in the order appended", got, until, want)
	}
	if got := string(mustRead(t, path+".requests")); got != "custos-requests/1\n"+acmeLine+boltLine+coveLine {
		t.Fatalf("the journal is not in its documented form:\n%s", got)
	}
	info, err := os.Stat(path + ".requests")
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the journal's mode is not 0600: %v %v", info.Mode(), err)
	}

	// What AppendRequests recorded is on disk, for the next process.
	h.Close()
	h2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if got, _ := mustRequests(t, h2); !reflect.DeepEqual(got, want) {
		t.Fatalf("a fresh Open reads %v, want %v", got, want)
	}
}

func TestAppendRequestsKeepsTimesInUTCToTheMillisecond(t *testing.T) {
	h, _ := openNew(t)
	r := testRequest("acme", 4)
	r.Time = time.Date(2026, 1, 20, 17, 2, 5, 512999999, time.FixedZone("CET", 3600))
	now := testRequest("bolt", 5)
	now.Time = time.Now() // with a monotonic reading, which the file cannot hold
	if err := h.AppendRequests(r, now); err != nil {
		t.Fatal(err)
	}
	got, _ := mustRequests(t, h)
	if want := time.Date(2026, 1, 20, 16, 2, 5, 512000000, time.UTC); got[0].Time != want {
		t.Errorf("the request's time is %v, want %v", got[0].Time, want)
	}
	if want := now.Time.UTC().Truncate(time.Millisecond); got[1].Time != want {
		t.Errorf("the request's time is %v, want %v", got[1].Time, want)
	}
}

func TestJournalPartialLastLine(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		n          int // requests read before the append
		after      string
	}{
		{"a cut-short request line is ignored, then replaced",
			"custos-requests/1\n" + acmeLine + boltLine[:20], 1,
			"custos-requests/1\n" + acmeLine + coveLine},
		{"a cut-short request line after a dropped-until is ignored, then replaced",
			"custos-requests/1\ndropped-until 2025-03-01T12:00:00.000Z\n" + acmeLine[:len(acmeLine)-1], 0,
			"custos-requests/1\ndropped-until 2025-03-01T12:00:00.000Z\n" + coveLine},
		{"a cut-short header is an empty journal, then made whole",
			"custos-requ", 0,
			"custos-requests/1\n" + coveLine},
		{"an empty file is an empty journal, then made whole",
			"", 0,
			"custos-requests/1\n" + coveLine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, path := openNew(t)
			if err := os.WriteFile(path+".requests", []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			if before, _ := mustRequests(t, h); len(before) != tc.n {
				t.Fatalf("read %d requests, want %d", len(before), tc.n)
			}
			if err := h.AppendRequests(testRequest("cove", 3)); err != nil {
				t.Fatalf("AppendRequests: %v", err)
			}
			if got := string(mustRead(t, path+".requests")); got != tc.after {
				t.Fatalf("after an append the journal is\n%q\nwant\n%q", got, tc.after)
			}
		})
	}
}

// badJournals lists journals that are refused, named after the rule, and the
// line each error names.
var badJournals = []struct {
	name, file string
	line       int
}{
	{"a header of another format is refused", "custos-vault/1\n" + acmeLine, 1},
	{"a header with a space after it is refused", "custos-requests/1 \n" + acmeLine, 1},
	{"a header with CRLF is refused", "custos-requests/1\r\n" + acmeLine, 1},
	{"a journal without a header is refused", acmeLine + boltLine, 1},
	{"garbage without a newline is refused", "\x00\x01garbage", 1},
	{"an upper-case node name is refused", "custos-requests/1\nAcme" + acmeLine[4:], 2},
	{"an empty node name is refused", "custos-requests/1\n" + acmeLine[4:], 2},
	{"a time without milliseconds is refused", "custos-requests/1\nacme 2025-03-01T12:30:01Z 01010101010101010101010101010101\n", 2},
	{"a time with microseconds is refused", "custos-requests/1\nacme 2025-03-01T12:30:01.123456Z 01010101010101010101010101010101\n", 2},
	{"a time with an offset is refused", "custos-requests/1\nacme 2025-03-01T12:30:01.123+00:00 01010101010101010101010101010101\n", 2},
	{"a time with a lower-case z is refused", "custos-requests/1\nacme 2025-03-01T12:30:01.123z 01010101010101010101010101010101\n", 2},
	{"a time that does not exist is refused", "custos-requests/1\nacme 2025-02-30T12:30:01.123Z 01010101010101010101010101010101\n", 2},
	{"hour 24 is refused", "custos-requests/1\nacme 2025-03-01T24:00:00.000Z 01010101010101010101010101010101\n", 2},
	{"February 29 of a common year is refused", "custos-requests/1\nacme 2025-02-29T12:30:01.123Z 01010101010101010101010101010101\n", 2},
	{"the zero time is refused", "custos-requests/1\nacme 0001-01-01T00:00:00.000Z 01010101010101010101010101010101\n", 2},
	{"upper-case hex is refused", "custos-requests/1\n" + acmeLine + "bolt 2025-03-01T12:30:02.123Z 0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A\n", 3},
	{"a short nonce is refused", "custos-requests/1\n" + acmeLine + "bolt 2025-03-01T12:30:02.123Z 020202020202020202020202020202\n", 3},
	{"a long nonce is refused", "custos-requests/1\n" + acmeLine + "bolt 2025-03-01T12:30:02.123Z 0202020202020202020202020202020202\n", 3},
	{"a nonce that is not hex is refused", "custos-requests/1\n" + acmeLine + "bolt 2025-03-01T12:30:02.123Z 0202020202020202020202020202020g\n", 3},
	{"an extra field is refused", "custos-requests/1\n" + strings.TrimSuffix(acmeLine, "\n") + " 57\n", 2},
	{"a missing field is refused", "custos-requests/1\nacme 2025-03-01T12:30:01.123Z\n", 2},
	{"two spaces between fields are refused", "custos-requests/1\nacme  2025-03-01T12:30:01.123Z 01010101010101010101010101010101\n", 2},
	{"a trailing space is refused", "custos-requests/1\n" + strings.TrimSuffix(acmeLine, "\n") + " \n", 2},
	{"a CRLF line end is refused", "custos-requests/1\n" + strings.TrimSuffix(acmeLine, "\n") + "\r\n", 2},
	{"a tab between fields is refused", "custos-requests/1\nacme\t2025-03-01T12:30:01.123Z 01010101010101010101010101010101\n", 2},
	{"an empty line is refused", "custos-requests/1\n" + acmeLine + "\n" + boltLine, 3},
	{"dropped-until after a request is refused", "custos-requests/1\n" + acmeLine + "dropped-until 2025-03-01T12:00:00.000Z\n", 3},
	{"dropped-until twice is refused", "custos-requests/1\ndropped-until 2025-03-01T12:00:00.000Z\ndropped-until 2025-03-01T12:00:00.000Z\n", 3},
	{"dropped-until without a time is refused", "custos-requests/1\ndropped-until\n", 2},
	{"dropped-until with a bad time is refused", "custos-requests/1\ndropped-until 2025-03-01T12:00:00Z\n", 2},
	{"dropped-until of the zero time is refused", "custos-requests/1\ndropped-until 0001-01-01T00:00:00.000Z\n", 2},
}

func TestParseJournalIsStrict(t *testing.T) {
	for _, tc := range badJournals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseJournal([]byte(tc.file))
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if want := fmt.Sprintf("line %d:", tc.line); !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name the line (%q): %v", want, err)
			}
		})
	}
	t.Run("a long token is clipped in the error", func(t *testing.T) {
		_, err := parseJournal([]byte("custos-requests/1\n" + strings.Repeat("X", 1000) + " 2025-03-01T12:30:01.123Z 01010101010101010101010101010101\n"))
		if !errors.Is(err, ErrCorrupt) || len(err.Error()) > 200 {
			t.Fatalf("got %v, want a short ErrCorrupt", err)
		}
	})
	for _, tc := range []struct{ name, file string }{
		{"a later version is named", "custos-requests/2\n" + acmeLine},
		{"a later version is named even when cut short", "custos-requests/12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseJournal([]byte(tc.file))
			if !errors.Is(err, ErrUnknownFormat) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"custos-requests/`) {
				t.Fatalf("got %v, want ErrUnknownFormat naming the version", err)
			}
		})
	}
	for _, tc := range []struct {
		name, file string
		n          int
	}{
		{"an empty journal is read", "custos-requests/1\n", 0},
		{"February 29 of a leap year is read", "custos-requests/1\nacme 2024-02-29T23:59:59.999Z 01010101010101010101010101010101\n", 1},
		{"a node named dropped-until is a node", "custos-requests/1\ndropped-until 2025-03-01T12:30:01.123Z 01010101010101010101010101010101\n", 1},
		{"dropped-until on line 2 is read", "custos-requests/1\ndropped-until 2025-03-01T12:00:00.000Z\n" + acmeLine, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := parseJournal([]byte(tc.file))
			if err != nil || len(j.reqs) != tc.n {
				t.Fatalf("got %v, want %d requests", err, tc.n)
			}
		})
	}
}

func TestDamagedJournalIsNeverWritten(t *testing.T) {
	for _, tc := range append(badJournals[:len(badJournals):len(badJournals)],
		struct {
			name, file string
			line       int
		}{"a later version is refused", "custos-requests/2\n" + acmeLine, 1},
	) {
		t.Run(tc.name, func(t *testing.T) {
			h, path := openNew(t)
			jpath := path + ".requests"
			if err := os.WriteFile(jpath, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			err := h.AppendRequests(testRequest("cove", 3))
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("AppendRequests: got %v, want ErrCorrupt or ErrUnknownFormat", err)
			}
			if !strings.Contains(err.Error(), jpath) {
				t.Errorf("the error does not name the journal: %v", err)
			}
			if _, _, err := h.Requests(); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("Requests: got %v, want ErrCorrupt or ErrUnknownFormat", err)
			}
			if got := mustRead(t, jpath); !bytes.Equal(got, []byte(tc.file)) {
				t.Fatalf("the damaged journal was changed")
			}
		})
	}
	t.Run("a journal larger than any journal is refused", func(t *testing.T) {
		h, path := openNew(t)
		jpath := path + ".requests"
		big := "custos-requests/1\n" + strings.Repeat(acmeLine, maxJournalSize/len(acmeLine)+1)
		if err := os.WriteFile(jpath, []byte(big), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := h.AppendRequests(testRequest("cove", 3)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("AppendRequests: got %v, want ErrCorrupt", err)
		}
		if got := mustRead(t, jpath); string(got) != big {
			t.Fatalf("the oversized journal was changed")
		}
	})
}

func TestJournalCompaction(t *testing.T) {
	h, path := openNew(t)
	start := testTime.Truncate(time.Millisecond)
	back := start.Add(-10 * time.Hour) // where the clock goes back to
	var run []Request
	for i := range MaxRequests {
		run = append(run, numbered(i, start))
	}
	for i := range MaxRequests - 1 {
		run = append(run, numbered(MaxRequests+i, back))
	}
	if err := h.AppendRequests(run...); err != nil {
		t.Fatal(err)
	}
	if got, until := mustRequests(t, h); len(got) != 2*MaxRequests-1 || !until.IsZero() {
		t.Fatalf("a journal of %d requests was compacted to %d (dropped until %v)", 2*MaxRequests-1, len(got), until)
	}

	// The 2*MaxRequests-th compacts: the first MaxRequests appended go.
	last := numbered(2*MaxRequests-1, back)
	if err := h.AppendRequests(last); err != nil {
		t.Fatal(err)
	}
	run = append(run, last)
	got, until := mustRequests(t, h)
	if !reflect.DeepEqual(got, run[MaxRequests:]) {
		t.Fatalf("compaction kept %d requests, not the newest %d", len(got), MaxRequests)
	}
	if want := run[MaxRequests-1].Time; !until.Equal(want) {
		t.Fatalf("dropped until %v, want %v: the newest time dropped", until, want)
	}
	b := mustRead(t, path+".requests")
	if !bytes.HasPrefix(b, []byte("custos-requests/1\ndropped-until 2025-03-01T13:53:19.123Z\n")) || bytes.Count(b, []byte("\n")) != MaxRequests+2 {
		t.Fatalf("the compacted journal does not start with its dropped-until line, or has not %d requests", MaxRequests)
	}
	if _, err := os.Lstat(path + ".requests.tmp"); err == nil {
		t.Fatalf("compaction left its temporary file")
	}
	if info, err := os.Stat(path + ".requests"); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the compacted journal's mode is not 0600 (%v)", err)
	}

	// The second drops only times older than the first's dropped-until,
	// which stays.
	var more []Request
	for i := range MaxRequests {
		more = append(more, numbered(2*MaxRequests+i, back))
	}
	if err := h.AppendRequests(more...); err != nil {
		t.Fatal(err)
	}
	got, until2 := mustRequests(t, h)
	if !reflect.DeepEqual(got, more) {
		t.Fatalf("the second compaction kept %d requests, not the newest %d", len(got), MaxRequests)
	}
	if !until2.Equal(until) {
		t.Fatalf("dropped until %v after the second compaction, want %v kept", until2, until)
	}
}

func TestJournalFirstAppendOfManyCompacts(t *testing.T) {
	h, _ := openNew(t)
	start := testTime.Truncate(time.Millisecond)
	var run []Request
	for i := range 2*MaxRequests + 3 {
		run = append(run, numbered(i, start))
	}
	if err := h.AppendRequests(run...); err != nil {
		t.Fatal(err)
	}
	got, until := mustRequests(t, h)
	if !reflect.DeepEqual(got, run[MaxRequests+3:]) || !until.Equal(run[MaxRequests+2].Time) {
		t.Fatalf("kept %d requests, dropped until %v", len(got), until)
	}
}

func TestJournalRefusesFilesOthersCanReach(t *testing.T) {
	h, path := openNew(t)
	jpath := path + ".requests"
	if err := h.AppendRequests(testRequest("acme", 1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(jpath, 0o644); err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, jpath)
	err := h.AppendRequests(testRequest("bolt", 2))
	if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "chmod 600 "+jpath) {
		t.Fatalf("AppendRequests: got %v, want ErrPermissions saying how to fix it", err)
	}
	if _, _, err := h.Requests(); !errors.Is(err, ErrPermissions) {
		t.Fatalf("Requests: got %v, want ErrPermissions", err)
	}
	if !bytes.Equal(mustRead(t, jpath), before) {
		t.Fatalf("a journal others can reach was written to")
	}
}

func TestJournalRefusesSymlink(t *testing.T) {
	h, path := openNew(t)
	real := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(real, []byte("custos-requests/1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, path+".requests"); err != nil {
		t.Fatal(err)
	}
	if err := h.AppendRequests(testRequest("acme", 1)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("AppendRequests through a link: got %v, want a refusal", err)
	}
	if _, _, err := h.Requests(); err == nil {
		t.Fatalf("Requests through a link: no error")
	}
	if got := string(mustRead(t, real)); got != "custos-requests/1\n" {
		t.Fatalf("the link's target was written to")
	}
}

func TestJournalRefusesClosedHandle(t *testing.T) {
	h, path := openNew(t)
	h.Close()
	if err := h.AppendRequests(testRequest("acme", 1)); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("AppendRequests: got %v, want os.ErrClosed", err)
	}
	if _, _, err := h.Requests(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Requests: got %v, want os.ErrClosed", err)
	}
	if _, err := os.Lstat(path + ".requests"); err == nil {
		t.Fatalf("a closed handle made a journal")
	}
}

func TestAppendRequestsRefusesInvalidRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func(*Request)
	}{
		{"a bad node name is refused", func(r *Request) { r.Node = "Acme Corp" }},
		{"a node name with a space is refused", func(r *Request) { r.Node = "acme x" }},
		{"a 15-byte nonce is refused", func(r *Request) { r.Nonce = r.Nonce[:15] }},
		{"a missing nonce is refused", func(r *Request) { r.Nonce = nil }},
		{"a missing time is refused", func(r *Request) { r.Time = time.Time{} }},
		{"a time beyond year 9999 is refused", func(r *Request) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, path := openNew(t)
			jpath := path + ".requests"
			r := testRequest("acme", 9)
			tc.bad(&r)
			if err := h.AppendRequests(testRequest("bolt", 8), r); !errors.Is(err, ErrInvalid) {
				t.Fatalf("AppendRequests to no journal: got %v, want ErrInvalid", err)
			}
			if _, err := os.Lstat(jpath); err == nil {
				t.Fatalf("an invalid request made a journal")
			}
			if err := h.AppendRequests(testRequest("cove", 3)); err != nil {
				t.Fatal(err)
			}
			before := mustRead(t, jpath)
			if err := h.AppendRequests(testRequest("bolt", 8), r); !errors.Is(err, ErrInvalid) {
				t.Fatalf("AppendRequests: got %v, want ErrInvalid", err)
			}
			if !bytes.Equal(mustRead(t, jpath), before) {
				t.Fatalf("an invalid request was written")
			}
		})
	}
}

func TestCreateRefusesAnotherVaultsJournal(t *testing.T) {
	path := vaultPath(t)
	writeRaw(t, path+".requests", []byte("custos-requests/1\n"+acmeLine))
	if err := Create(path, testVault(t)); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), path+".requests") {
		t.Fatalf("Create beside a journal: got %v, want ErrExists naming the journal", err)
	}
	if _, err := os.Lstat(path); err == nil {
		t.Fatalf("Create made a vault beside another vault's journal")
	}
}

// An append reads the journal again when it is not as this handle left it:
// a line written behind its back is checked like any other.
func TestJournalChangedBehindTheHandleIsReadAgain(t *testing.T) {
	h, path := openNew(t)
	start := testTime.Truncate(time.Millisecond)
	for i := range 3 {
		if err := h.AppendRequests(numbered(i, start)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(path+".requests", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("not a request\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := h.AppendRequests(numbered(3, start)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("append to a journal changed behind the handle: %v, want ErrCorrupt", err)
	}
}
