// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/testutil"
)

// TestKillPurgeAndMaxAge kills a process that pushes messages and purges
// older ones (Purge up to one of the oldest it pushed) at random
// moments, restarting it each time, on a queue with MaxAge; then it drains
// the queue and checks that Purge and MaxAge dropped only what they may:
//
//   - no message up to a purge that returned is delivered;
//   - every message after every purge that was called, and pushed less than
//     MaxAge before the consumer passed it, is delivered, once.
//
// The process prints "try ID MICROS" before a push, "pushed ID SEQ" after
// it, "purging SEQ" before a purge and "purged SEQ" after it.

const envPurgeDir = "MINIQUEUE_PURGE_DIR"

var purgeKillOptions = Options{MaxAge: 3 * time.Second, MaxSegmentBytes: 64 << 10, checkpointBytes: 4 << 10,
	consSegmentBytes: 16 << 10, Logger: testutil.Quiet()}

func purgeChild(dir string) {
	purge := os.Getenv("MINIQUEUE_PURGE") == "true"
	say := func(format string, args ...any) { os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n") }
	o := purgeKillOptions
	q, err := Open[int](dir, &o)
	if err != nil {
		say("error open: %v", err)
		return
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	base := os.Getpid() * 1_000_000
	var seqs []uint64
	for i := 0; ; i++ {
		id := base + i
		say("try %d %d", id, time.Now().UnixMicro())
		seq, err := q.Push(id)
		if err != nil {
			say("error push: %v", err)
			return
		}
		say("pushed %d %d", id, seq)
		seqs = append(seqs, seq)
		if purge && len(seqs) > 1 && rng.IntN(3) == 0 {
			upTo := seqs[rng.IntN(len(seqs)/2)] // an older one
			say("purging %d", upTo)
			if err := q.Purge(upTo); err != nil {
				say("error purge: %v", err)
				return
			}
			say("purged %d", upTo)
		}
	}
}

func TestKillPurgeAndMaxAge(t *testing.T) {
	seconds := 7.0 // MaxAge is 3 s
	if testing.Short() {
		seconds = 4
	}
	dir := t.TempDir()
	var mu sync.Mutex
	tryAt := map[int]int64{}   // id: µs before its push
	seqOf := map[int]uint64{}  // id: its sequence number, if its push returned
	var purging, purged uint64 // highest purge called, returned
	var failures []string
	sink := func(line string) {
		f := strings.Fields(line)
		a, _ := strconv.ParseInt(f[1], 10, 64)
		var b int64
		if len(f) > 2 {
			b, _ = strconv.ParseInt(f[2], 10, 64)
		}
		mu.Lock()
		defer mu.Unlock()
		switch f[0] {
		case "try":
			tryAt[int(a)] = b
		case "pushed":
			seqOf[int(a)] = uint64(b)
		case "purging":
			purging = max(purging, uint64(a))
		case "purged":
			purged = max(purged, uint64(a))
		default:
			failures = append(failures, line)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	kills := 0
	// Purges in the first half; in the second, messages grow older than
	// MaxAge. On a busy machine a process may be killed before any purge
	// returns: the first half then lasts until one has (at most 60 s).
	purgedOnce := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return purged > 0
	}
	start := time.Now()
	half := start.Add(time.Duration(seconds / 2 * float64(time.Second)))
	for kills = 0; time.Since(start) < 60*time.Second; kills++ {
		doPurge := time.Now().Before(half) || !purgedOnce()
		if !doPurge && time.Since(start) > time.Duration(seconds*float64(time.Second)) {
			break
		}
		p := startKillProc(t, []string{envPurgeDir + "=" + dir, "MINIQUEUE_PURGE=" + strconv.FormatBool(doPurge)}, sink)
		time.Sleep(time.Duration(30+rng.IntN(150)) * time.Millisecond)
		p.kill()
	}
	if len(failures) > 0 {
		t.Fatalf("the process reported errors:\n%s", strings.Join(failures, "\n"))
	}
	o := purgeKillOptions
	q, err := Open[int](dir, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// A few young messages for sure, even on a slow machine.
	for id := 1; id <= 20; id++ {
		tryAt[id] = time.Now().UnixMicro()
		if seqOf[id], err = q.Push(id); err != nil {
			t.Fatal(err)
		}
	}
	c := q.Consumer("")
	got := map[int]uint64{}
	recvAt := map[uint64]int64{} // seq -> when Receive returned it
	for c.Lag() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := c.Receive(ctx)
		cancel()
		if err != nil {
			if c.Lag() == 0 {
				break // the last ones were past MaxAge
			}
			t.Fatalf("drain: %v (lag %d)", err, c.Lag())
		}
		if _, ok := got[m.Value]; ok {
			t.Fatalf("message %d delivered twice", m.Value)
		}
		got[m.Value] = m.Seq
		recvAt[m.Seq] = time.Now().UnixMicro()
		if m.Seq <= purged {
			t.Fatalf("message %d (seq %d) delivered after a purge up to %d returned", m.Value, m.Seq, purged)
		}
		mustAck(t, m)
	}
	// The consumer passes messages in sequence order, so it passed message
	// X (delivered it, or dropped it as past MaxAge) no later than it
	// returned the next delivered message after X, or than the drain's end.
	// A message pushed less than MaxAge before that moment was young when
	// it was passed: it must have been delivered.
	drainEnd := time.Now().UnixMicro()
	delivered := slices.Sorted(maps.Keys(recvAt))
	passedBy := func(seq uint64) int64 {
		i, _ := slices.BinarySearch(delivered, seq)
		if i == len(delivered) {
			return drainEnd
		}
		return recvAt[delivered[i]]
	}
	// Push times are stored in whole milliseconds: 5 ms of slack.
	maxAge := o.MaxAge.Microseconds() - 5000
	checked, expired := 0, 0
	for id, seq := range seqOf {
		if seq <= purging {
			continue
		}
		passed := passedBy(seq)
		if tryAt[id] <= passed-maxAge {
			if _, ok := got[id]; !ok {
				expired++
			}
			continue
		}
		checked++
		if _, ok := got[id]; !ok {
			t.Fatalf("message %d (seq %d), pushed %v before the consumer passed it and after every purge, was dropped",
				id, seq, time.Duration(passed-tryAt[id])*time.Microsecond)
		}
	}
	t.Logf("%d kills, %d messages pushed, purged up to %d (called up to %d); %d delivered in the drain, "+
		"%d checked young and unpurged, %d old ones discarded by MaxAge", kills, len(seqOf), purged, purging,
		len(got), checked, expired)
	if checked == 0 || purged == 0 {
		t.Fatalf("the test exercised too little")
	}
}
