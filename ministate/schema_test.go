// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

func bankRegistry() *ministate.Registry[Account] {
	reg := ministate.NewRegistry[Account]()
	ministate.Register[Deposit](reg, "Deposit")
	ministate.Register[Withdraw](reg, "Withdraw")
	return reg
}

// A folder written with a Registry, opened without it (or with another
// name, or one written without a Registry opened with one) is refused
// before anything is appended; it used to open with a wrong state and
// append bare records the right program could not read.
func TestOpenWrongShapeRefused(t *testing.T) {
	tests := []struct {
		name             string
		writeReg, reg    bool
		writeName, given string
		wantErr          string // "" for success
	}{
		{"registry folder opened without one", true, false, "", "", "holds mutations logged with a Registry, no Options.Schema; this Manager has mutations logged as their own JSON"},
		{"bare folder opened with a registry", false, true, "", "", "logged as their own JSON (no Registry), no Options.Schema; this Manager has mutations logged with a Registry"},
		{"other name", true, true, "bank/v1", "bank/v2", `Options.Schema "bank/v1"; this Manager has mutations logged with a Registry, Options.Schema "bank/v2"`},
		{"name given later to an unnamed folder", true, true, "", "bank/v1", `Options.Schema "bank/v1"`},
		{"same registry and name", true, true, "bank/v1", "bank/v1", ""},
		{"same bare shape", false, false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			wopts := &ministate.Options{Schema: tt.writeName, Logger: testutil.Quiet()}
			if tt.writeReg {
				wopts.Registry = bankRegistry()
			}
			if tt.writeReg {
				m, err := ministate.Open[Account, ministate.Mutator[Account]](dir, "bank.log", wopts)
				if err != nil {
					t.Fatal(err)
				}
				m.Apply(Deposit{Owner: "ada", Amount: 50})
				m.Close()
			} else {
				m, err := ministate.Open[Account, Deposit](dir, "bank.log", wopts)
				if err != nil {
					t.Fatal(err)
				}
				m.Apply(Deposit{Owner: "ada", Amount: 50})
				m.Close()
			}
			before, err := os.ReadFile(filepath.Join(dir, "bank.log"))
			if err != nil {
				t.Fatal(err)
			}
			opts := &ministate.Options{Schema: tt.given, Logger: testutil.Quiet()}
			if tt.reg {
				opts.Registry = bankRegistry()
				m, err := ministate.Open[Account, ministate.Mutator[Account]](dir, "bank.log", opts)
				if err == nil {
					defer m.Close()
				}
				checkOpen(t, err, tt.wantErr)
			} else {
				m, err := ministate.Open[Account, Deposit](dir, "bank.log", opts)
				if err == nil {
					defer m.Close()
					var ada int
					m.View(func(a *Account) { ada = a.Balances["ada"] })
					if ada != 50 {
						t.Fatalf("ada has %d", ada)
					}
				}
				checkOpen(t, err, tt.wantErr)
			}
			if tt.wantErr != "" {
				after, err := os.ReadFile(filepath.Join(dir, "bank.log"))
				if err != nil || string(after) != string(before) {
					t.Fatalf("a refused Open changed the journal (%v)", err)
				}
			}
		})
	}
}

func checkOpen(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		return
	}
	var se *ministore.SchemaError
	if !errors.Is(err, ministore.ErrSchema) || !errors.As(err, &se) {
		t.Fatalf("Open = %v, want ministore.ErrSchema", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Open = %v\nwant it to say %q", err, want)
	}
}

func TestApplyInvalidUTF8Refused(t *testing.T) {
	m, err := ministate.Open[Account, Deposit](t.TempDir(), "bank.log", &ministate.Options{Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Apply(Deposit{Owner: "a\xffb", Amount: 1}); !errors.Is(err, ministore.ErrInvalidUTF8) {
		t.Fatalf("Apply = %v, want ministore.ErrInvalidUTF8", err)
	}
	if _, err := m.ApplyBatch(Deposit{Owner: "ok", Amount: 1}, Deposit{Owner: "\xc3", Amount: 1}); !errors.Is(err, ministore.ErrInvalidUTF8) {
		t.Fatalf("ApplyBatch = %v, want ministore.ErrInvalidUTF8", err)
	}
	if m.Sequence() != 0 {
		t.Fatalf("Sequence %d after refused mutations", m.Sequence())
	}
	if _, err := m.Apply(Deposit{Owner: "\ufffd", Amount: 1}); err != nil {
		t.Fatalf("Apply of a real U+FFFD: %v", err)
	}
	// Ready-made JSON that is not UTF-8, which encoding/json copies as
	// it is.
	r, err := ministate.Open[Tape, PushRaw](t.TempDir(), "tape.log", &ministate.Options{Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Apply(PushRaw{V: 1, Note: json.RawMessage("\"\xff\"")}); !errors.Is(err, ministore.ErrInvalidUTF8) {
		t.Fatalf("Apply with 0xff in a json.RawMessage = %v, want ministore.ErrInvalidUTF8", err)
	}
}

// PushRaw is a Push with a note of ready-made JSON.
type PushRaw struct {
	V    int             `json:"v"`
	Note json.RawMessage `json:"note"`
}

func (p PushRaw) Apply(s *Tape) { Push{p.V}.Apply(s) }

func TestSchemaOptionInvalid(t *testing.T) {
	for _, s := range []string{"a b", strings.Repeat("x", 101), "\x00"} {
		if _, err := ministate.Open[Account, Deposit](t.TempDir(), "bank.log", &ministate.Options{Schema: s, Logger: testutil.Quiet()}); err == nil {
			t.Errorf("Schema %q accepted", s)
		}
	}
}
