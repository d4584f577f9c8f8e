package jsonout

import "testing"

// --json asks for JSON anywhere before "--", in the forms a flag parser
// takes as true.
func TestRequestedFindsTheFlagBeforeTheEndOfFlags(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{[]string{"ls", "--json"}, true},
		{[]string{"--json=true", "get", "x"}, true},
		{[]string{"--json=1"}, true},
		{[]string{"--json=false", "ls"}, false},
		{[]string{"ls"}, false},
		{[]string{"run", "--", "cmd", "--json"}, false},
		{[]string{"get", "--jsonx"}, false},
	}
	for _, tc := range cases {
		if got := Requested(tc.args); got != tc.want {
			t.Errorf("Requested(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
