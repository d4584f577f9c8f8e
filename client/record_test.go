package client

import (
	"fmt"
	"strings"
	"testing"
)

func TestRecordPrintsRedacted(t *testing.T) {
	r := &Record{Username: "svc-acme", Password: "hunter2"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%T %v"} {
		for _, arg := range []any{r, *r, []*Record{r}, map[string]Record{"a": *r}} {
			if out := fmt.Sprintf(verb, arg); strings.Contains(out, "hunter2") || strings.Contains(out, "svc-acme") ||
				strings.Contains(out, "68756e74657232") {
				t.Errorf("%s of %T prints %q", verb, arg, out)
			}
		}
	}
}
