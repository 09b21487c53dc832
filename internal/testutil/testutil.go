// SPDX-License-Identifier: MIT OR Apache-2.0

// Package testutil holds the helpers that the tests of several packages
// share. Only tests import it (internal/depcheck checks that), so nothing
// here ships in a program.
package testutil

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// Quiet returns a logger that discards everything: for the warnings that
// recovery and damage tests provoke on purpose.
func Quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// CopyDir copies the directory tree src (on the real file system) to dst,
// creating dst, and fails the test on any error. It returns dst.
func CopyDir(tb testing.TB, src, dst string) string {
	tb.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		tb.Fatalf("copy %s to %s: %v", src, dst, err)
	}
	return dst
}
