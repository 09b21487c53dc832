// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// journalFiles returns the number of files and bytes of the journal with
// active file name in dir.
func journalFiles(t *testing.T, fsys vfs.FS, dir, name string) (files int, bytes int64) {
	t.Helper()
	names, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == name || strings.HasPrefix(n, name+".0") || strings.HasPrefix(n, name+".1") {
			info, err := fsys.Stat(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			files++
			bytes += info.Size()
		}
	}
	return files, bytes
}

// TestDiskReclaimed pushes about 2 MB through a queue with two consumers:
// message segments stay while the slower consumer needs them and are
// deleted once both acknowledged them; the consumer journal stays small
// throughout; and the queue reopens at the right place afterwards.
func TestDiskReclaimed(t *testing.T) {
	mem := vfs.NewMem()
	o := Options{MaxSegmentBytes: 64 << 10, consSegmentBytes: 16 << 10, checkpointBytes: 8 << 10}
	q := memQueue[benchMsg](t, mem, o)
	a, b := q.Consumer("a"), q.Consumer("b")
	const n = 12000
	batch := make([]benchMsg, 100)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = newBenchMsg(i + j)
		}
		if _, _, err := q.PushBatch(batch...); err != nil {
			t.Fatal(err)
		}
	}
	segs, size := journalFiles(t, mem, "/q", messagesFile)
	if segs < 20 || size < 1<<20 {
		t.Fatalf("%d message files, %d bytes after pushing: the test needs more", segs, size)
	}
	for range n {
		mustAck(t, recvT(t, a))
	}
	if s, _ := journalFiles(t, mem, "/q", messagesFile); s < segs-1 {
		t.Fatalf("%d of %d message files left while b has acked nothing", s, segs)
	}
	for i := range n {
		mustAck(t, recvT(t, b))
		if i == n/2 {
			if s, _ := journalFiles(t, mem, "/q", messagesFile); s > segs/2+2 || s < segs/2-2 {
				t.Fatalf("%d of %d message files left with half acked by both", s, segs)
			}
		}
	}
	if s, sz := journalFiles(t, mem, "/q", messagesFile); s > 2 || sz > 2*o.MaxSegmentBytes {
		t.Fatalf("%d message files (%d bytes) left after everything was acked", s, sz)
	}
	if s, sz := journalFiles(t, mem, "/q", consumersFile); s > 3 || sz > 48<<10 {
		t.Fatalf("consumer journal: %d files, %d bytes after %d records", s, sz, 4*n)
	}
	first := q.Stats().FirstSeq
	if first < n-1000 {
		t.Fatalf("FirstSeq %d after acking %d messages", first, n)
	}
	q.Close()
	q = memQueue[benchMsg](t, mem, o)
	seq, err := q.Push(newBenchMsg(-1))
	if err != nil || seq != n+1 {
		t.Fatalf("Push after reopen = %d, %v; want %d", seq, err, n+1)
	}
	for _, name := range []string{"a", "b"} {
		c := q.Consumer(name)
		if c.Lag() != 1 {
			t.Fatalf("consumer %s lag %d after reopen", name, c.Lag())
		}
		if m := recvT(t, c); m.Seq != n+1 || m.Attempt != 1 {
			t.Fatalf("consumer %s got seq %d attempt %d", name, m.Seq, m.Attempt)
		}
	}
}

// Deleting the slow consumer gives its messages' space back.
func TestDeleteConsumerFreesSpace(t *testing.T) {
	mem := vfs.NewMem()
	o := Options{MaxSegmentBytes: 64 << 10, consSegmentBytes: 16 << 10, checkpointBytes: 4 << 10}
	q := memQueue[benchMsg](t, mem, o)
	a := q.Consumer("a")
	q.Consumer("idle")
	for i := range 3000 {
		if _, err := q.Push(newBenchMsg(i)); err != nil {
			t.Fatal(err)
		}
		mustAck(t, recvT(t, a))
	}
	before, _ := journalFiles(t, mem, "/q", messagesFile)
	if err := q.DeleteConsumer("idle"); err != nil {
		t.Fatal(err)
	}
	mustPush(t, q, newBenchMsg(-1))
	mustAck(t, recvT(t, a)) // an ack triggers the checkpoint that frees space
	if after, _ := journalFiles(t, mem, "/q", messagesFile); before < 4 || after > 2 {
		t.Fatalf("message files: %d with the idle consumer, %d after deleting it", before, after)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("Len %d", n)
	}
}
