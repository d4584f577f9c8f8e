package api

import (
	"errors"
	"fmt"
	"time"
)

// StatusError is an error a node answers with: a code the client acts on
// and a message fit to show a user. It never carries internal detail; the
// node logs that itself.
type StatusError struct {
	Code       Code
	Message    string
	RetryAfter time.Duration // for RATE_LIMITED
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = codeText(e.Code)
	}
	if e.Code == Code_RATE_LIMITED && e.RetryAfter > 0 {
		return fmt.Sprintf("%s (retry after %s)", msg, e.RetryAfter.Round(time.Millisecond))
	}
	return msg
}

// Is makes errors.Is(err, ErrLocked) and its kin true for every StatusError
// of that code, whatever its message.
func (e *StatusError) Is(target error) bool {
	t, ok := target.(*StatusError)
	return ok && t.Message == "" && t.Code == e.Code
}

// Errors to match with errors.Is.
var (
	ErrUnauthenticated = &StatusError{Code: Code_UNAUTHENTICATED}
	ErrLocked          = &StatusError{Code: Code_LOCKED}
	ErrRateLimited     = &StatusError{Code: Code_RATE_LIMITED}
	ErrNotFound        = &StatusError{Code: Code_NOT_FOUND}
	ErrInvalidArgument = &StatusError{Code: Code_INVALID_ARGUMENT}
	ErrUnavailable     = &StatusError{Code: Code_UNAVAILABLE}
	ErrInternal        = &StatusError{Code: Code_INTERNAL}
	ErrAlreadyExists   = &StatusError{Code: Code_ALREADY_EXISTS}
)

// Errorf makes a StatusError with a formatted message.
func Errorf(code Code, format string, args ...any) *StatusError {
	return &StatusError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func codeText(c Code) string {
	switch c {
	case Code_UNAUTHENTICATED:
		return "not logged in"
	case Code_LOCKED:
		return "the account is locked"
	case Code_RATE_LIMITED:
		return "too many requests"
	case Code_NOT_FOUND:
		return "not found"
	case Code_INVALID_ARGUMENT:
		return "invalid request"
	case Code_UNAVAILABLE:
		return "the node is unavailable"
	case Code_ALREADY_EXISTS:
		return "already exists"
	}
	return "internal error"
}

// maxErrorMessage caps the message a peer may make a client show.
const maxErrorMessage = 512

// ToProto turns any error into the wire form: a StatusError keeps its code
// and message; anything else becomes INTERNAL with no detail, so an internal
// error can never reach a peer by accident. nil stays nil.
func ToProto(err error) *Error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return &Error{Code: Code_INTERNAL, Message: codeText(Code_INTERNAL)}
	}
	msg := se.Message
	if msg == "" {
		msg = codeText(se.Code)
	}
	// The retry-after travels in its own field; the client's Error adds it
	// to the message, so it is not in the message here.
	return &Error{Code: se.Code, Message: msg, RetryAfterMs: uint64(se.RetryAfter / time.Millisecond)}
}

// FromProto turns a received Error into a StatusError, or nil for none. The
// message comes from the peer: it is capped and stripped of control
// characters before anyone shows it.
func FromProto(e *Error) error {
	if e == nil || e.Code == Code_OK {
		return nil
	}
	code := e.Code
	if _, known := Code_name[int32(code)]; !known {
		code = Code_INTERNAL
	}
	return &StatusError{
		Code:       code,
		Message:    printable(e.Message, maxErrorMessage),
		RetryAfter: time.Duration(min(e.RetryAfterMs, uint64(24*time.Hour/time.Millisecond))) * time.Millisecond,
	}
}

// printable keeps at most n bytes of s's printable runes.
func printable(s string, n int) string {
	out := make([]rune, 0, min(len(s), n))
	size := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			continue
		}
		if size += len(string(r)); size > n {
			break
		}
		out = append(out, r)
	}
	return string(out)
}
