package config

import (
	"errors"
	"fmt"
	"strings"
)

// A FieldError is one problem with a configuration. Load and Validate return
// one FieldError, or several joined with errors.Join; errors.As finds the
// first, and Problems lists them all.
type FieldError struct {
	File  string // the config file; "" for a Config that did not come from Load
	Line  int    // 1-based line in File; 0 when not known
	Field string // the setting as a YAML path ("limits.max_batch", "listen[1]"); "" for the whole file
	Msg   string // what is wrong, for an operator
}

// Error formats the problem as "file:line: field: msg", leaving out the
// parts that are not known.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Problems returns every *FieldError in err, which may be a single
// *FieldError or several joined by errors.Join.
func Problems(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// problems collects FieldErrors up to a limit, so that a file of garbage
// yields a readable message rather than thousands of lines.
type problems struct {
	list    []error
	dropped int
}

const maxProblems = 20

func (p *problems) add(field, format string, args ...any) {
	p.addLine(0, field, format, args...)
}

func (p *problems) addLine(line int, field, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	p.list = append(p.list, &FieldError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	if p.dropped > 0 {
		list = append(list[:len(list):len(list)], &FieldError{Msg: fmt.Sprintf("and %d more problems", p.dropped)})
	}
	if len(list) == 1 {
		return list[0]
	}
	return errors.Join(list...)
}
