package api

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestErrorsCrossTheWire(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode Code
		wantIs   error
		wantMsg  string
	}{
		{"an internal error reaches the peer as INTERNAL without detail",
			fmt.Errorf("badger: open /var/lib/custos/data: %w", errors.New("disk on fire")),
			Code_INTERNAL, ErrInternal, "internal error"},
		{"a status error keeps its code and message",
			Errorf(Code_NOT_FOUND, "no unit 00ff"), Code_NOT_FOUND, ErrNotFound, "no unit 00ff"},
		{"a wrapped status error keeps its code",
			fmt.Errorf("release: %w", ErrLocked), Code_LOCKED, ErrLocked, "the account is locked"},
		{"rate limiting carries the retry-after",
			&StatusError{Code: Code_RATE_LIMITED, RetryAfter: 1500 * time.Millisecond},
			Code_RATE_LIMITED, ErrRateLimited, "too many requests (retry after 1.5s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wire := ToProto(tc.err)
			if wire.Code != tc.wantCode {
				t.Fatalf("code %v; want %v", wire.Code, tc.wantCode)
			}
			back := FromProto(wire)
			if !errors.Is(back, tc.wantIs) {
				t.Fatalf("errors.Is(%v, %v) is false", back, tc.wantIs)
			}
			if !strings.HasPrefix(back.Error(), tc.wantMsg) {
				t.Fatalf("message %q; want %q", back.Error(), tc.wantMsg)
			}
			if strings.Contains(back.Error(), "disk") || strings.Contains(back.Error(), "/var") {
				t.Fatalf("internal detail crossed the wire: %q", back)
			}
		})
	}
	if ToProto(nil) != nil || FromProto(nil) != nil || FromProto(&Error{}) != nil {
		t.Error("no error did not stay no error")
	}
	var se *StatusError
	rl := FromProto(&Error{Code: Code_RATE_LIMITED, RetryAfterMs: 2500})
	if !errors.As(rl, &se) || se.RetryAfter != 2500*time.Millisecond {
		t.Errorf("retry-after lost: %v", rl)
	}
}

func TestFromProtoDistrustsThePeer(t *testing.T) {
	err := FromProto(&Error{Code: 99, Message: "\x1b[31mred\x1b[0m\nnew line" + strings.Repeat("x", 4096), RetryAfterMs: 1 << 62})
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	if se.Code != Code_INTERNAL {
		t.Errorf("unknown code became %v; want INTERNAL", se.Code)
	}
	if strings.ContainsAny(se.Message, "\x1b\n") || len(se.Message) > maxErrorMessage {
		t.Errorf("message not sanitised: %q", se.Message)
	}
	if se.RetryAfter > 24*time.Hour || se.RetryAfter < 0 {
		t.Errorf("retry-after %v not capped", se.RetryAfter)
	}
}
