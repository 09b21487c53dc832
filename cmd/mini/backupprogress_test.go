// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
)

// mini backup's bar is fed by the library's BackupProgress: the bytes
// copied, out of the journal's, ending at the bytes of the copy.
func TestBackupProgressBar(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "j.log")
	s, err := ministore.Open[logRec](src, &ministore.Options{MaxSegmentBytes: 4 << 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if _, err := s.Append(logRec{I: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var p testutil.Progress
	var screen bytes.Buffer
	update, finish := progressTo(&screen, "copying", true)
	out, err := runBackup("log", src, filepath.Join(dir, "bk"), "", func(done, total int64) {
		p.Report(done, total)
		update(done, total)
	})
	finish()
	if err != nil {
		t.Fatal(err)
	}
	if out.Files < 3 || out.Bytes == 0 {
		t.Fatalf("backup %+v", out)
	}
	p.Check(t, out.Bytes)
	if !strings.Contains(screen.String(), "copying") {
		t.Fatalf("no bar drawn: %q", screen.String())
	}
}
