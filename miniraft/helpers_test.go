// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mini-go/mini/internal/jsonline"
	"github.com/mini-go/mini/internal/testcert"
	"github.com/mini-go/mini/internal/testutil"
	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// testCA is the CA of the test clusters; otherCA signs the certificates
// of attackers.
var (
	testCA  = testcert.Must(testcert.NewCA("miniraft test cluster CA"))
	otherCA = testcert.Must(testcert.NewCA("some other CA"))
)

// nodeTLS returns the TLS configuration of the test node id.
func nodeTLS(id string) *tls.Config { return testcert.Must(testCA.Config(id)) }

func quietOpts(fsys vfs.FS) *StoreOptions { return &StoreOptions{Logger: testutil.Quiet(), FS: fsys} }

// storeOpts returns a copy of opts (nil: the defaults) with a quiet Logger
// if it has none.
func storeOpts(opts *StoreOptions) *StoreOptions {
	if opts == nil {
		return quietOpts(nil)
	}
	o := *opts
	if o.Logger == nil {
		o.Logger = testutil.Quiet()
	}
	return &o
}

// openStore opens a store with open in a new temporary folder, with
// storeOpts(opts), and closes it at the end of the test.
func openStore[T io.Closer](tb testing.TB, open func(string, *StoreOptions) (T, error), name string, opts *StoreOptions) T {
	tb.Helper()
	s, err := open(filepath.Join(tb.TempDir(), name), storeOpts(opts))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func openLogStore(tb testing.TB, opts *StoreOptions) *LogStore {
	tb.Helper()
	return openStore(tb, OpenLogStore, "raft.log", opts)
}

func openStableStore(tb testing.TB) *StableStore {
	tb.Helper()
	return openStore(tb, OpenStableStore, "stable.log", nil)
}

// mustStore stores testLogs(from, to) in l.
func mustStore(tb testing.TB, l *LogStore, from, to uint64) {
	tb.Helper()
	if err := l.StoreLogs(testLogs(from, to)); err != nil {
		tb.Fatal(err)
	}
}

// mustDelete deletes the logs lo..hi of l.
func mustDelete(tb testing.TB, l *LogStore, lo, hi uint64) {
	tb.Helper()
	if err := l.DeleteRange(lo, hi); err != nil {
		tb.Fatal(err)
	}
}

// testLog returns a log whose fields are all derived from idx.
func testLog(idx uint64) *raft.Log {
	l := &raft.Log{
		Index: idx,
		Term:  idx/10 + 1,
		Type:  raft.LogCommand,
		Data:  fmt.Appendf(nil, "log %d", idx),
	}
	switch idx % 4 {
	case 1:
		l.Data = fmt.Appendf(nil, `{"n":%d}`, idx) // stored as JSON
	case 2:
		l.Type = raft.LogConfiguration
		l.Data = []byte{0x80, byte(idx), 0, '\n', '<'}
		l.Extensions = []byte("ext")
	case 3:
		l.AppendedAt = time.Unix(1767323045, int64(idx))
	}
	return l
}

func testLogs(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, testLog(i))
	}
	return out
}

// sameLog reports whether a and b are equal as raft sees them (nil and
// empty byte slices are the same, times compare as instants).
func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) && a.AppendedAt.Equal(b.AppendedAt)
}

func mustIndexes(tb testing.TB, l *LogStore, first, last uint64) {
	tb.Helper()
	f, err := l.FirstIndex()
	if err != nil {
		tb.Fatal(err)
	}
	la, err := l.LastIndex()
	if err != nil {
		tb.Fatal(err)
	}
	if f != first || la != last {
		tb.Fatalf("indexes %d..%d, want %d..%d", f, la, first, last)
	}
}

// mustLogs checks that l holds exactly the logs want[i] at their indexes,
// with no log just outside.
func mustLogs(tb testing.TB, l *LogStore, want []*raft.Log) {
	tb.Helper()
	for _, w := range want {
		var got raft.Log
		if err := l.GetLog(w.Index, &got); err != nil {
			tb.Fatalf("GetLog(%d): %v", w.Index, err)
		}
		if !sameLog(&got, w) {
			tb.Fatalf("GetLog(%d) = %+v, want %+v", w.Index, got, *w)
		}
	}
}

// writeRaftLog writes recs to a new journal raft.log and returns its path.
func writeRaftLog(tb testing.TB, recs ...jsonline.Trusted) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "raft.log")
	j, err := ministore.Open[jsonline.Trusted](path, &ministore.Options{Logger: testutil.Quiet(), Schema: ministore.AnySchema})
	if err != nil {
		tb.Fatal(err)
	}
	defer j.Close()
	if _, _, err := j.AppendBatch(recs...); err != nil {
		tb.Fatal(err)
	}
	return path
}

// encodeLog returns the record of l, as StoreLogs writes it.
func encodeLog(l *raft.Log) jsonline.Trusted { return appendLog(nil, l) }

// newTestCodec returns the default codec of the test state.
func newTestCodec(tb testing.TB) codec[ledger, add] {
	tb.Helper()
	c, err := newCodec[ledger, add](nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// restoredCopy returns a new fsm restored from a snapshot of f, and the
// error of that restore.
func restoredCopy(tb testing.TB, f *fsm[ledger, add]) (*fsm[ledger, add], error) {
	tb.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		tb.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		tb.Fatal(err)
	}
	g := newTestFSM(tb)
	return g, g.Restore(sink.reader())
}

// newTestFSM returns an empty fsm of the test state with the default codec.
func newTestFSM(tb testing.TB) *fsm[ledger, add] { return newFSM(newTestCodec(tb), testutil.Quiet()) }

// runUntil starts n goroutines in wg, each calling step until stop is
// closed or step returns false.
func runUntil(wg *sync.WaitGroup, stop <-chan struct{}, n int, step func() bool) {
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !step() {
					return
				}
			}
		})
	}
}
