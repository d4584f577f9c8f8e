package client

import (
	"testing"
)

func FuzzParseMove(f *testing.F) {
	f.Add([]byte(`{"v":1,"user":"alice","old_device":"12D3KooWRnSBr7f272vT2bTeMPiGqqMmUk4E9FqCg4SxxzgsPasX","keep_old":false}`))
	f.Add([]byte(`{"v":2,"user":"alice","old_device":"x"}`))
	f.Add([]byte(`{"v":1,"user":"","old_device":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMove(b)
		if err != nil {
			return
		}
		if m.OldDevice.Validate() != nil || m.User == "" {
			t.Fatalf("accepted a record that breaks the rules: %+v", m)
		}
	})
}
