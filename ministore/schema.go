// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"fmt"
)

// AnySchema, as Options.Schema, opens a journal whatever schema it records
// (or none). New segments keep the schema the journal records. It is for
// tools that handle records without knowing their type, such as `mini`.
const AnySchema = "*"

// MaxSchemaLen is the longest schema name, in bytes; with it a header
// line stays within the 255 bytes a reader looks for it in.
const MaxSchemaLen = 128

// validSchemaName reports whether name can be written in a header: 1 to
// MaxSchemaLen bytes of printable ASCII other than the space.
func validSchemaName[T string | []byte](name T) bool {
	if len(name) == 0 || len(name) > MaxSchemaLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func checkSchemaOption(s string) error {
	if s == "" || s == AnySchema || validSchemaName(s) {
		return nil
	}
	return fmt.Errorf("ministore: invalid Options.Schema %q: want 1 to %d bytes of printable ASCII without spaces", s, MaxSchemaLen)
}

// A SchemaError means a journal records a schema other than the one the
// caller asked for in Options.Schema. Open returns it before it changes
// anything in the journal.
type SchemaError struct {
	Path   string // the segment file whose header says what it holds
	Holds  string // the schema the journal records ("" for none)
	Wanted string // Options.Schema ("" for none)
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("ministore: schema mismatch: %s holds %s, opened as %s", e.Path, schemaText(e.Holds), schemaText(e.Wanted))
}

// Is matches ErrSchema.
func (e *SchemaError) Is(target error) bool { return target == ErrSchema }

func schemaText(s string) string {
	if s == "" {
		return "no schema"
	}
	return fmt.Sprintf("schema %q", s)
}

// schemaAllowed reports whether a journal recording holds can be opened
// with Options.Schema wanted.
func schemaAllowed(holds, wanted string) bool {
	return holds == "" || wanted == AnySchema || holds == wanted
}

// settleSchema runs once recovery has read every segment's header, before
// it changes anything on disk: the segments that record a schema must
// agree (segments without one, written before the journal had a schema or
// by the Rust crate, say nothing), and the schema must be one
// Options.Schema allows. It sets the schema the Store writes in new
// headers.
func (w *wal) settleSchema() error {
	w.schema = w.opts.Schema
	if w.schema == AnySchema {
		w.schema = ""
	}
	holds, where := "", ""
	for _, seg := range w.segs {
		s := seg.hdr.schema
		if s == "" {
			continue
		}
		if holds != "" && s != holds {
			return &JournalError{Path: seg.path, Line: 1, Err: fmt.Errorf(
				"%w: header records schema %q, but %s records %q", ErrCorrupt, s, where, holds)}
		}
		holds, where = s, seg.path
	}
	if !schemaAllowed(holds, w.opts.Schema) {
		return &SchemaError{Path: where, Holds: holds, Wanted: w.opts.Schema}
	}
	if holds != "" {
		w.schema = holds
	}
	return nil
}
