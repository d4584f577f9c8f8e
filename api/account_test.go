package api

import (
	"errors"
	"testing"
)

func TestAccountRequestNamesItsOperation(t *testing.T) {
	if err := (&AccountRequest{Op: &AccountRequest_Close{Close: &AccountClose{}}}).Validate(); err != nil {
		t.Errorf("a close request: %v", err)
	}
	if err := (&AccountRequest{}).Validate(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a request with no operation: %v, want INVALID_ARGUMENT", err)
	}
}
