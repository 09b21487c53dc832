// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministate"
	"github.com/mini-go/mini/ministore"
)

type logRec struct {
	W int `json:"w"`
	I int `json:"i"`
}

// logWorker appends from four goroutines to dir/j.log, small segments,
// cutting the journal's front now and then, and prints "SEQ W I" for
// every append that returned (after "ready").
func logWorker(ctx context.Context, dir string) error {
	s, err := ministore.Open[logRec](filepath.Join(dir, "j.log"), &ministore.Options{MaxSegmentBytes: 4 << 10,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer s.Close()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	var mu sync.Mutex
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				seq, err := s.Append(logRec{w, i})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %d %d\n", seq, w, i)
				out.Flush()
				mu.Unlock()
				if w == 0 && i%400 == 399 {
					if err := s.TruncateFront(seq - 200); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return s.Close()
}

// startLogWorker starts logWorker in a child process and returns the
// appends it acknowledged so far (a func to call at any time) and a func
// that stops it.
func startLogWorker(t *testing.T, dir string) (acked func() map[uint64]logRec, stop func()) {
	t.Helper()
	cmd, stdin, stdout := startChild(t, "log", dir)
	var mu sync.Mutex
	got := map[uint64]logRec{}
	ready := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
				continue
			}
			var seq uint64
			var r logRec
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &seq, &r.W, &r.I); err == nil {
				mu.Lock()
				got[seq] = r
				mu.Unlock()
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stdin.Close()
			<-read
			if err := cmd.Wait(); err != nil {
				t.Errorf("log worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the log worker did not start")
	}
	acked = func() map[uint64]logRec {
		mu.Lock()
		defer mu.Unlock()
		m := make(map[uint64]logRec, len(got))
		for k, v := range got {
			m[k] = v
		}
		return m
	}
	return acked, stop
}

// Backup under load, with a real child process: a program appends to a
// journal from four goroutines (and cuts its front now and then) while
// mini backup, another process, copies it three times. Each copy opens
// with Open, without a repair, and holds every record the program had
// acknowledged before mini backup started, at its sequence number, once.
func TestBackupLiveLog(t *testing.T) {
	dir := t.TempDir()
	acked, stop := startLogWorker(t, dir)
	checked := 0
	for b := range 3 {
		time.Sleep(150 * time.Millisecond)
		before := acked()
		dst := filepath.Join(t.TempDir(), fmt.Sprintf("bk%d", b))
		r := mini(t, "backup", "--json", filepath.Join(dir, "j.log"), dst)
		var out backupOut
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
			t.Fatalf("mini backup: %v %+v", err, r)
		}
		if out.Kind != "log" || !out.Live || out.Log == nil || out.Path != dst {
			t.Fatalf("mini backup of a live journal: %+v", out)
		}
		s, err := ministore.Open[logRec](filepath.Join(dst, "j.log"), &ministore.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("open the copy: %v", err)
		}
		if s.TornTail() != nil || s.LastSeq() != out.CopyPoint || s.FirstSeq() != out.Log.First {
			t.Fatalf("the copy: torn %+v, %d..%d; mini said %+v", s.TornTail(), s.FirstSeq(), s.LastSeq(), out.Log)
		}
		inCopy := map[uint64]logRec{}
		seen := map[logRec]bool{}
		next := s.FirstSeq()
		for rec, err := range s.All(0) {
			if err != nil || rec.Seq != next || seen[rec.Value] {
				t.Fatalf("the copy at %d: %+v %v (seen %v)", next, rec, err, seen[rec.Value])
			}
			next++
			seen[rec.Value] = true
			inCopy[rec.Seq] = rec.Value
		}
		s.Close()
		missing := 0
		for seq, want := range before {
			if seq < out.Log.First {
				continue // cut by the program's TruncateFront before the copy
			}
			checked++
			if inCopy[seq] != want {
				missing++
			}
		}
		if missing > 0 {
			t.Fatalf("backup %d: %d acknowledged records missing from the copy", b, missing)
		}
	}
	stop()
	t.Logf("3 live backups by mini in its own process: %d acknowledged records checked, 0 missing", checked)
	// Now that no program has it open, backup takes the lock.
	dst := filepath.Join(t.TempDir(), "closed")
	mini(t, "backup", filepath.Join(dir, "j.log"), dst).want(t, 0, "with the lock", "")
	mini(t, "backup", filepath.Join(dir, "j.log"), dst).want(t, 2, "", "not empty")
	mini(t, "backup", filepath.Join(dir, "none.log"), dst+"2").want(t, 2, "", "no journal")
}

// mini backup of a state folder and of a queue that another process is
// using: the copies open, and hold a state (and a queue) that follows
// from their records.
func TestBackupLiveStateQueue(t *testing.T) {
	dir := t.TempDir()
	stopState := startWorker(t, "state", dir)
	for b := range 3 {
		dst := filepath.Join(t.TempDir(), fmt.Sprintf("state%d", b))
		r := mini(t, "backup", "--json", dir, dst)
		var out backupOut
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
			t.Fatalf("mini backup of a state folder: %v %+v", err, r)
		}
		if out.Kind != "state" || !out.Live || out.CopyPoint < 120 {
			t.Fatalf("mini backup of a live state folder: %+v", out)
		}
		m, err := ministate.Open[counter, inc](dst, "counter.log", &ministate.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("open the state copy: %v", err)
		}
		var v int
		m.View(func(c *counter) { v = c.Value })
		if uint64(v) != m.Sequence() || m.Sequence() != out.CopyPoint {
			t.Fatalf("the state copy holds %d at record %d; mini said %d", v, m.Sequence(), out.CopyPoint)
		}
		m.Close()
		time.Sleep(50 * time.Millisecond)
	}
	stopState()

	qdir := t.TempDir()
	stopQueue := startWorker(t, "queue", qdir)
	for b := range 3 {
		dst := filepath.Join(t.TempDir(), fmt.Sprintf("queue%d", b))
		r := mini(t, "backup", "--json", qdir, dst)
		var out backupOut
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
			t.Fatalf("mini backup of a queue: %v %+v", err, r)
		}
		if out.Kind != "queue" || !out.Live || out.CopyPoint < 22 || out.Queue.Dead == nil {
			t.Fatalf("mini backup of a live queue: %+v", out)
		}
		q, err := miniqueue.Open[string](dst, &miniqueue.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("open the queue copy: %v", err)
		}
		if q.Len() == 0 || q.DeadLetters().Len() == 0 {
			t.Fatalf("the queue copy holds %d messages, %d dead letters", q.Len(), q.DeadLetters().Len())
		}
		q.Close()
		time.Sleep(50 * time.Millisecond)
	}
	stopQueue()
}
