// SPDX-License-Identifier: MIT OR Apache-2.0

package crashtest

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// recorder is a testing.TB whose Fatalf records the message and stops the
// calling goroutine, as testing.T's does.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	fatal  string
	logged []string
}

func (r *recorder) Helper() {}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logged = append(r.logged, format)
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = format
	r.mu.Unlock()
	runtime.Goexit()
}

// sweep runs f with a recorder on its own goroutine, so that Fatalf's
// Goexit ends only that goroutine, and returns the recorder.
func sweep(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// write is a workload of three file-system operations.
func write(fs vfs.FS) error {
	f, err := fs.OpenFile("/a", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte("x")); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func TestSweepsFailWhenNothingIsExercised(t *testing.T) {
	tests := []struct {
		name  string
		sweep func(tb testing.TB, work func(vfs.FS) error)
	}{
		{"ErrorSweep", func(tb testing.TB, work func(vfs.FS) error) {
			ErrorSweep(tb, func(in *Injection) { in.Reached(tb, work(in.FS)) })
		}},
		{"CrashSweep", func(tb testing.TB, work func(vfs.FS) error) {
			CrashSweep(tb, 1, 2, func(c *Crash) { c.Crashed(tb, work(c.FS)) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idle := sweep(t, func(tb testing.TB) { tt.sweep(tb, func(vfs.FS) error { return nil }) })
			if !strings.Contains(idle.fatal, "exercised nothing") {
				t.Errorf("a workload with no file operation: fatal %q, want a failure saying the sweep exercised nothing", idle.fatal)
			}
			busy := sweep(t, func(tb testing.TB) { tt.sweep(tb, write) })
			if busy.fatal != "" {
				t.Errorf("a workload with file operations failed the sweep: %q", busy.fatal)
			}
			if len(busy.logged) == 0 {
				t.Errorf("a workload with file operations logged no count")
			}
		})
	}
}
