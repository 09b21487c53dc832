// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// twoDeadLetters builds a closed queue in /q on a fresh file system whose
// dead-letter queue holds "a" and "b", and whose main queue holds "c",
// acknowledged, and "d", not received.
func twoDeadLetters(t *testing.T) *vfs.Mem {
	t.Helper()
	mem := vfs.NewMem()
	q := openT[string](t, "/q", withFS(Options{MaxDeliveries: 1}, mem))
	mustPush(t, q, "a", "b", "c", "d")
	c := q.Consumer("")
	for _, want := range []string{"a", "b"} {
		m := recvT(t, c)
		if m.Value != want {
			t.Fatalf("got %q, want %q", m.Value, want)
		}
		if err := m.Nack(0); err != nil {
			t.Fatal(err)
		}
	}
	mustAck(t, recvT(t, c)) // a and b go to the dead-letter queue on the way
	if n := q.DeadLetters().Len(); n != 2 {
		t.Fatalf("%d dead letters, want 2", n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return mem
}

func editFile(t *testing.T, fsys vfs.FS, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := vfs.ReadFile(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, fsys, path, edit(b))
}

// writeFile replaces the content of path, durably.
func writeFile(t testing.TB, fsys vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Every error of the dead-letter queue reaches Open's caller: damage to its
// files fails Open with the typed error naming the file, instead of a
// queue whose DeadLetters().Len() says 0.
func TestOpenReportsDeadLetterDamage(t *testing.T) {
	removed := func(t *testing.T, mem *vfs.Mem, file string) {
		if err := mem.Remove(file); err != nil {
			t.Fatal(err)
		}
	}
	header := func(t *testing.T, mem *vfs.Mem, file string) {
		editFile(t, mem, file, func(b []byte) []byte {
			b[5] ^= 0x20
			return b
		})
	}
	for _, tc := range []struct {
		name   string
		file   string // the file damaged, which the error names
		damage func(t *testing.T, mem *vfs.Mem, file string)
		is     error // the sentinel the error matches
	}{
		{"dead letters' header", "/q/dead/messages.log", header, ministore.ErrCorrupt},
		{"dead letters' consumer journal header", "/q/dead/consumers.log", header, ministore.ErrCorrupt},
		{"dead letters' message journal missing", "/q/dead/messages.log", removed, ErrCorrupt},
		{"dead letters' consumer journal missing", "/q/dead/consumers.log", removed, ErrCorrupt},
		{"message journal missing", "/q/messages.log", removed, ErrCorrupt},
		{"consumer journal missing", "/q/consumers.log", removed, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := twoDeadLetters(t)
			tc.damage(t, mem, tc.file)
			q, err := Open[string]("/q", withFS(Options{MaxDeliveries: 1}, mem))
			if err == nil {
				n := q.DeadLetters().Len()
				q.Close()
				t.Fatalf("Open succeeded (DeadLetters().Len() = %d), want an error", n)
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("Open = %v, want %v naming %s", err, tc.is, tc.file)
			}
			// Nothing was repaired in silence: the folder still fails.
			if _, err2 := Open[string]("/q", withFS(Options{MaxDeliveries: 1}, mem)); err2 == nil {
				t.Fatalf("second Open succeeded after %v", err)
			}
		})
	}
}

// DeadLetters().Len() counts from memory after Open: it agrees with All,
// after a reopen too, and has no error to hide.
func TestDeadLettersLenAfterReopen(t *testing.T) {
	mem := twoDeadLetters(t)
	q := openT[string](t, "/q", withFS(Options{MaxDeliveries: 1}, mem))
	var vals []string
	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, dl.Value)
	}
	if n := q.DeadLetters().Len(); n != 2 || strings.Join(vals, ",") != "a,b" || q.Stats().DeadLetters != 2 {
		t.Fatalf("Len = %d, All = %v, Stats = %+v", n, vals, q.Stats())
	}
	if m := recvT(t, q.Consumer("")); m.Value != "d" {
		t.Fatalf("got %q, want d", m.Value)
	}
}

// Messages that a checkpoint shows were durable cannot vanish in a crash:
// a message journal cut short below them, even at a line end where nothing
// in the file shows records are missing, fails Open, for the queue and the
// dead-letter queue alike. A checkpoint written before "last" existed
// proves nothing and still opens.
func TestOpenReportsLostMessages(t *testing.T) {
	lastLineCut := func(b []byte) []byte {
		return b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+1]
	}
	for _, tc := range []struct {
		name, file string
		edit       func([]byte) []byte
		fails      bool
	}{
		{"message journal cut at a line end", "/q/messages.log", lastLineCut, true},
		{"dead letters cut at a line end", "/q/dead/messages.log", lastLineCut, true},
		{"checkpoints without last", "/q/consumers.log", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := twoDeadLetters(t)
			if tc.edit != nil {
				editFile(t, mem, tc.file, tc.edit)
			} else {
				// Rewrite the consumer journals as an older release wrote
				// them: without "last" (and so with their own checksums).
				for _, p := range []string{"/q/consumers.log", "/q/dead/consumers.log"} {
					rewriteWithoutLast(t, mem, p)
				}
			}
			q, err := Open[string]("/q", withFS(Options{MaxDeliveries: 1}, mem))
			if !tc.fails {
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				if n := q.DeadLetters().Len(); n != 2 {
					t.Errorf("%d dead letters, want 2", n)
				}
				q.Close()
				return
			}
			if err == nil {
				q.Close()
				t.Fatal("Open succeeded on a message journal that lost durable messages")
			}
			if re, ok := errors.AsType[*RecordError](err); !ok || re.Journal != tc.file || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want a *RecordError naming %s", err, tc.file)
			}
		})
	}
}

// rewriteWithoutLast rewrites the consumer journal path with every
// checkpoint's "last" removed, as a release before it wrote them.
func rewriteWithoutLast(t *testing.T, mem *vfs.Mem, path string) {
	t.Helper()
	o := &ministore.Options{FS: mem, Logger: testutil.Quiet(), Schema: consumersSchema}
	s, err := ministore.Open[json.RawMessage](path, o)
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	stripped := 0
	first := s.FirstSeq()
	for rec, err := range s.All(1) {
		if err != nil {
			t.Fatal(err)
		}
		v := regexp.MustCompile(`,"last":\d+`).ReplaceAll(rec.Value, nil)
		if len(v) < len(rec.Value) {
			stripped++
		}
		recs = append(recs, v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if stripped == 0 {
		t.Fatalf("%s has no checkpoint with \"last\"", path)
	}
	// The journal again, with the same sequence numbers.
	for _, p := range []string{path, path + ".front"} {
		if err := mem.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if s, err = ministore.Open[json.RawMessage](path, o); err != nil {
		t.Fatal(err)
	}
	if err := s.TruncateFront(first); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A dead letter whose checksum fails below a record that proves it durable
// (the second dead letter's "sync" field) is damage, not a torn tail. As
// after a crash (the clean-end proof removed) Open reads the newest segment
// only from what no "sync" field proves durable, so the damage is reported by
// the reader instead (docs/FORMAT.md, the sync proof): All fails with the
// typed error naming the file, before yielding anything, and nothing was
// cut or rewritten: a reopened queue reports it again.
func TestDeadLetterDamageReportedByReaders(t *testing.T) {
	mem := twoDeadLetters(t)
	const file = "/q/dead/messages.log"
	if err := mem.Remove(file + ".end"); err != nil {
		t.Fatal(err)
	}
	editFile(t, mem, file, func(b []byte) []byte {
		i := bytes.Index(b, []byte(`"crc":"`)) + len(`"crc":"`)
		b[i] ^= 0x01
		return b
	})
	for round := range 2 {
		q, err := Open[string]("/q", withFS(Options{MaxDeliveries: 1}, mem))
		if err != nil {
			// Reporting it at Open is as good.
			if !errors.Is(err, ministore.ErrCorrupt) || !strings.Contains(err.Error(), file) {
				t.Fatalf("round %d: Open = %v, want ErrCorrupt naming %s", round, err, file)
			}
			continue
		}
		var got []string
		var readErr error
		for dl, err := range q.DeadLetters().All() {
			if err != nil {
				readErr = err
				break
			}
			got = append(got, dl.Value)
		}
		q.Close()
		if !errors.Is(readErr, ministore.ErrCorrupt) || !strings.Contains(readErr.Error(), file) {
			t.Fatalf("round %d: All = %q, %v; want ErrCorrupt naming %s", round, got, readErr, file)
		}
		if len(got) != 0 {
			t.Fatalf("round %d: All yielded %q before the damaged first dead letter", round, got)
		}
	}
}
