// SPDX-License-Identifier: MIT OR Apache-2.0

package testutil_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
)

func TestQuietDiscards(t *testing.T) {
	if testutil.Quiet().Enabled(context.Background(), slog.LevelError) {
		t.Fatal("Quiet logger is enabled at LevelError")
	}
}

func TestCopyDir(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"a.log": "one\n", filepath.Join("sub", "b.log"): "two\n"}
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := testutil.CopyDir(t, src, filepath.Join(t.TempDir(), "copy"))
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
		}
	}
}
