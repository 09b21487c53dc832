// SPDX-License-Identifier: MIT OR Apache-2.0

package ministate_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/vfs"
)

// Counter and Inc are the Rust crate's test types.
type Counter struct {
	Value uint32 `json:"value"`
}

type Inc struct {
	By uint32 `json:"by"`
}

func (i Inc) Apply(s *Counter) { s.Value += i.By }

// Config and UpdateVersion are the Rust crate's snapshot test types.
type Config struct {
	Version uint32 `json:"version"`
	Enabled bool   `json:"enabled"`
}

type UpdateVersion struct {
	To uint32 `json:"to"`
}

func (u UpdateVersion) Apply(s *Config) { s.Version = u.To }

// Tape is a state in which order matters: it records every value pushed,
// so a state shows exactly which mutations reached it, in which order.
type Tape struct {
	Items []int          `json:"items"`
	Count map[string]int `json:"count"`
}

// Push appends V to the tape.
type Push struct {
	V int `json:"v"`
}

func (p Push) Apply(s *Tape) {
	s.Items = append(s.Items, p.V)
	if s.Count == nil {
		s.Count = map[string]int{}
	}
	s.Count[fmt.Sprint(p.V%3)]++
}

// tapeOf returns the state that pushing vs onto an empty tape gives.
func tapeOf(vs ...int) Tape {
	var t Tape
	for _, v := range vs {
		Push{v}.Apply(&t)
	}
	return t
}

func (t Tape) equal(o Tape) bool {
	if !slices.Equal(t.Items, o.Items) || len(t.Count) != len(o.Count) {
		return false
	}
	for k, v := range t.Count {
		if o.Count[k] != v {
			return false
		}
	}
	return true
}

// memOptions returns options on fsys with a silent logger.
func memOptions(fsys vfs.FS, o ministate.Options) *ministate.Options {
	o.FS = fsys
	o.Logger = testutil.Quiet()
	return &o
}

func mustOpen[S any, M ministate.Mutator[S]](t testing.TB, dir, journal string, opts *ministate.Options) *ministate.Manager[S, M] {
	t.Helper()
	if opts == nil {
		opts = &ministate.Options{Logger: testutil.Quiet()}
	}
	m, err := ministate.Open[S, M](dir, journal, opts)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", dir, journal, err)
	}
	return m
}

func mustApply[S any, M ministate.Mutator[S]](t testing.TB, m *ministate.Manager[S, M], muts ...M) {
	t.Helper()
	for _, mut := range muts {
		if _, err := m.Apply(mut); err != nil {
			t.Fatalf("Apply(%+v): %v", mut, err)
		}
	}
}

func mustClose(t testing.TB, c interface{ Close() error }) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func state[S any, M ministate.Mutator[S]](m *ministate.Manager[S, M]) S {
	s, err := m.Copy()
	if err != nil {
		panic(err)
	}
	return s
}

// copyFixture copies a folder of testdata/mini-rs to a fresh temporary
// folder (the vendored fixtures are read-only) and returns its path.
func copyFixture(t testing.TB, name string) string {
	t.Helper()
	return testutil.CopyDir(t, filepath.Join("..", "testdata", "mini-rs", name), filepath.Join(t.TempDir(), name))
}
