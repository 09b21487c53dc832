// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-go/mini/miniqueue"
	"github.com/mini-go/mini/ministate"
)

// The live tests run a program in a child process (this test binary, run
// again with envWorker set) that works on a folder while mini, a second
// process, reads it.
const (
	envWorker    = "MINI_TEST_WORKER"
	envWorkerDir = "MINI_TEST_WORKER_DIR"
)

// runWorker runs the workload name on dir until its standard input ends,
// writing "ready" once it has done some work. It returns the exit code.
func runWorker(name, dir string) int {
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	var err error
	switch name {
	case "queue":
		err = queueWorker(ctx, dir)
	case "state":
		err = stateWorker(ctx, dir)
	case "log":
		err = logWorker(ctx, dir) // backup_test.go
	default:
		err = fmt.Errorf("no worker %q", name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// queueWorker pushes two messages for each one it receives, acknowledges
// most and moves every fifth to the dead letters (Term), with small
// segments so that files come and go under mini's reads.
func queueWorker(ctx context.Context, dir string) error {
	q, err := miniqueue.Open[string](dir, &miniqueue.Options{MaxSegmentBytes: 4 << 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer q.Close()
	pad := fmt.Sprintf("%0200d", 0)
	for i := 0; ctx.Err() == nil; i++ {
		if _, err := q.Push(strconv.Itoa(i) + pad); err != nil {
			return err
		}
		if i%2 == 0 {
			continue // the queue grows
		}
		m, err := q.Receive(ctx)
		if ctx.Err() != nil {
			break // stopped
		}
		if err != nil {
			return err
		}
		if i%10 == 1 {
			err = m.Term("worker gave up")
		} else {
			err = m.Ack()
		}
		if err != nil {
			return err
		}
		if i == 21 {
			fmt.Println("ready")
		}
	}
	return q.Close()
}

// stateWorker applies increments, with a snapshot and a compaction every
// 50 records.
func stateWorker(ctx context.Context, dir string) error {
	m, err := ministate.Open[counter, inc](dir, "counter.log", &ministate.Options{SnapshotEvery: 50, KeepSnapshots: 1})
	if err != nil {
		return err
	}
	defer m.Close()
	for i := 1; ctx.Err() == nil; i++ {
		if _, err := m.Apply(inc{1}); err != nil {
			return err
		}
		if i == 120 {
			fmt.Println("ready")
		}
	}
	return m.Close()
}

// startChild runs this test binary as the worker name on dir, with pipes
// to its standard input and from its standard output.
func startChild(t *testing.T, name, dir string) (*exec.Cmd, io.WriteCloser, io.ReadCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorker+"="+name, envWorkerDir+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, stdout
}

// startWorker starts the worker name on dir and waits until it is ready;
// the returned func stops it and checks that it exited cleanly.
func startWorker(t *testing.T, name, dir string) (stop func()) {
	t.Helper()
	cmd, stdin, stdout := startChild(t, name, dir)
	var stopped atomic.Bool
	stop = func() {
		if stopped.Swap(true) {
			return
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("worker %s: %v", name, err)
		}
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		stop()
		t.Fatalf("worker %s did not start: %q %v", name, line, err)
	}
	return stop
}

// mini queue stat, peek and dead list on a queue another process is
// using: they work, and the figures move with the program's work.
func TestQueueLive(t *testing.T) {
	dir := t.TempDir()
	stop := startWorker(t, "queue", dir)
	var prev queueStat
	for i := range 8 {
		r := mini(t, "queue", "stat", "--json", dir)
		var st queueStat
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
			t.Fatalf("queue stat --json on a live queue: %v %+v", err, r)
		}
		if i == 0 {
			prev = st
		}
		if len(st.Consumers) != 1 || st.LastSeq < prev.LastSeq || st.Consumers[0].Floor < prev.Consumers[0].Floor ||
			st.Consumers[0].Floor > st.LastSeq+1 || st.FirstSeq > st.Consumers[0].Floor || st.Len > int(st.LastSeq) {
			t.Fatalf("stat %d: %+v after %+v", i, st, prev)
		}
		if st.Messages.LastSeq != st.LastSeq || st.Messages.Segments == 0 || st.ConsumerLog.Records == 0 {
			t.Fatalf("stat %d journals: %+v", i, st)
		}
		mini(t, "queue", "peek", "-n", "3", dir).want(t, 0, `{"seq":`, "")
		mini(t, "log", "stat", filepath.Join(dir, "messages.log")).want(t, 0, "records, sequence numbers", "")
		mini(t, "queue", "dead", "list", "--json", dir).want(t, 0, `"reason":"Term: worker gave up"`, "")
		time.Sleep(50 * time.Millisecond)
		if i == 7 {
			if st.LastSeq <= prev.LastSeq || st.DeadLetters == 0 || st.Messages.Segments < 2 {
				t.Fatalf("the figures did not move: %+v, first %+v", st, prev)
			}
		}
	}
	// Commands that change the queue need its lock.
	mini(t, "queue", "push", dir, `"x"`).want(t, 1, "", "open in another process")
	mini(t, "queue", "purge", "--all", dir).want(t, 1, "", "open in another process")
	mini(t, "queue", "dead", "replay", "--all", dir).want(t, 1, "", "open in another process")
	stop()
	mini(t, "queue", "push", dir, `"x"`).want(t, 0, "pushed 1 message", "")
}

// mini state show on a state folder another process is using, which
// snapshots and compacts its journal all the time.
func TestStateLive(t *testing.T) {
	dir := t.TempDir()
	startWorker(t, "state", dir)
	var prev uint64
	for range 10 {
		r := mini(t, "state", "show", "--json", dir)
		var shown struct {
			SnapshotSeq *uint64 `json:"snapshot_seq"`
			State       counter `json:"snapshot_state"`
			Tail        []struct {
				Seq uint64 `json:"seq"`
				Rec inc    `json:"rec"`
			} `json:"tail"`
			Sequence uint64 `json:"sequence"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || r.code != 0 {
			t.Fatalf("state show on a live folder: %v %+v", err, r)
		}
		// Every record adds 1: the snapshot plus its tail is the state.
		next := uint64(1)
		if shown.SnapshotSeq != nil {
			next = *shown.SnapshotSeq + 1
			if uint64(shown.State.Value) != *shown.SnapshotSeq {
				t.Fatalf("snapshot %d holds %d", *shown.SnapshotSeq, shown.State.Value)
			}
		}
		for _, rec := range shown.Tail {
			if rec.Seq != next {
				t.Fatalf("tail: record %d where %d belongs", rec.Seq, next)
			}
			next++
		}
		if shown.Sequence != next-1 || shown.Sequence < prev {
			t.Fatalf("sequence %d (records up to %d), before %d", shown.Sequence, next-1, prev)
		}
		prev = shown.Sequence
		r = mini(t, "state", "stat", "--json", dir)
		var st stateStat
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
			t.Fatalf("state stat on a live folder: %v %+v", err, r)
		}
		if st.Journal == nil || st.Journal.LastSeq < prev || st.SnapshotSeq == nil || *st.SnapshotSeq%50 != 0 {
			t.Fatalf("state stat: %+v", st)
		}
		time.Sleep(30 * time.Millisecond)
	}
}
