// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/testutil"
)

// The kill test runs a producer process and a consumer process on one
// queue folder and kills them with SIGKILL at random moments, for many
// rounds, then drains the queue and audits what the processes reported.
//
// The two processes take turns on the folder (its lock admits one at a
// time): each opens the queue, works for a random 20-120 ms, closes it and
// pauses, unless it is killed first. The producer pushes numbered messages
// (alone or in batches) and prints "try A B" before each push and
// "pushed A B" after it returned. The consumer receives on four goroutines
// and prints "recv ID ATTEMPT" when Receive returned, then "acked ID" only
// after Ack returned nil; it nacks some messages, and leaves those it holds
// when killed to be delivered again by the next consumer process. Each line is one write to a pipe the test reads, so a line printed
// survives the kill of its process, and a line is printed only once what it
// reports has happened: the application's record of an ack is trustworthy.
//
// The audit: every message whose push returned is acked exactly once by
// that record, except that a kill between Ack's return and the print can
// hide the ack of a message (then it must never be received again); no
// message is received after its "acked" line; no delivery count is handed
// out twice for a message; nothing is received that was never tried.
//
// MINIQUEUE_KILL_SECONDS sets how long processes are killed (default 20;
// 3 with -short).

const (
	envKillRole  = "MINIQUEUE_KILL_ROLE"
	envKillDir   = "MINIQUEUE_KILL_DIR"
	envKillBase  = "MINIQUEUE_KILL_BASE"
	envKillRetry = "MINIQUEUE_KILL_RETRY"
	envOpenOnce  = "MINIQUEUE_OPEN_ONCE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envOpenOnce); dir != "" {
		q, err := Open[int](dir, nil)
		switch {
		case errors.Is(err, ErrLocked):
			fmt.Println("locked")
		case err != nil:
			fmt.Println("error:", err)
		default:
			q.Close()
			fmt.Println("opened")
		}
		os.Exit(0)
	}
	if dir := os.Getenv(envPurgeDir); dir != "" {
		purgeChild(dir)
		os.Exit(0)
	}
	if role := os.Getenv(envKillRole); role != "" {
		killChild(role, os.Getenv(envKillDir), os.Getenv(envKillBase), os.Getenv(envKillRetry))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The visibility timeout is long: within one process a message is then
// delivered again only after a Nack by the goroutine holding it, so the
// order of the printed lines is the order of the deliveries. (Redelivery on
// timeout, racing with late acks, is tested with synctest and by
// TestCrashConcurrent.)
var killOptions = Options{VisibilityTimeout: time.Minute, MaxDeliveries: -1, MaxSegmentBytes: 64 << 10,
	checkpointBytes: 4 << 10, consSegmentBytes: 16 << 10}

// killChild is the body of a producer or consumer process. It runs until it
// is killed, or its parent goes away.
func killChild(role, dir, base, retry string) {
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n") // one write: atomic on a pipe
		outMu.Unlock()
	}
	next, _ := strconv.Atoi(base)
	parent := os.Getppid()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	o := killOptions
	o.Logger = testutil.Quiet()
	for start := time.Now(); time.Since(start) < 5*time.Minute && os.Getppid() == parent; {
		q, err := Open[int](dir, &o)
		if errors.Is(err, ErrLocked) {
			time.Sleep(time.Duration(1+rng.IntN(3)) * time.Millisecond)
			continue
		}
		if err != nil {
			say("error open: %v", err)
			return
		}
		until := time.Now().Add(time.Duration(20+rng.IntN(100)) * time.Millisecond)
		if role == "producer" {
			if id, _ := strconv.Atoi(retry); id > 0 {
				// The killed producer's last PushWithID may or may not
				// have gone through: retry it, as a producer would.
				seq, dup, err := q.PushWithID("m"+retry, id)
				if err != nil {
					say("error push: %v", err)
					return
				}
				say("retried %d %d %t", id, seq, dup)
				retry = ""
			}
			for time.Now().Before(until) {
				n := 1
				if rng.IntN(4) == 0 {
					n = 1 + rng.IntN(5)
				}
				ids := make([]int, n)
				for i := range ids {
					ids[i] = next + i
				}
				withID := n == 1 && rng.IntN(2) == 0
				if withID {
					say("try-id %d %d", ids[0], ids[0])
				} else {
					say("try %d %d", ids[0], ids[n-1])
				}
				switch {
				case withID:
					_, _, err = q.PushWithID("m"+strconv.Itoa(ids[0]), ids[0])
				case n == 1:
					_, err = q.Push(ids[0])
				default:
					_, _, err = q.PushBatch(ids...)
				}
				if err != nil {
					say("error push: %v", err)
					return
				}
				say("pushed %d %d", ids[0], ids[n-1])
				next += n
			}
		} else {
			ctx, cancel := context.WithDeadline(context.Background(), until)
			var wg sync.WaitGroup
			for w := range 4 {
				wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
				wg.Go(func() {
					for {
						m, err := q.Receive(ctx)
						if err != nil {
							if ctx.Err() == nil {
								say("error receive: %v", err)
							}
							return
						}
						say("recv %d %d %d", m.Value, m.Attempt, time.Now().UnixMicro())
						if wrng.IntN(40) == 0 {
							switch err := m.Term("kill test"); {
							case err == nil:
								say("termed %d", m.Value)
							case !errors.Is(err, ErrClosed):
								say("error term: %v", err)
							}
							continue
						}
						if wrng.IntN(20) == 0 {
							if err := m.Nack(0); err != nil && !errors.Is(err, ErrClosed) {
								say("error nack: %v", err)
							}
							continue
						}
						if wrng.IntN(20) == 0 {
							// A delayed Nack: the message must not come back
							// before its time, whichever process receives it.
							d := time.Duration(20+wrng.IntN(200)) * time.Millisecond
							until := time.Now().Add(d)
							switch err := m.Nack(d); {
							case err == nil:
								say("delayed %d %d", m.Value, until.UnixMicro())
							case !errors.Is(err, ErrClosed):
								say("error nack: %v", err)
							}
							continue
						}
						err = m.Ack()
						switch {
						case err == nil:
							say("acked %d", m.Value)
						case errors.Is(err, ErrClosed):
						default:
							say("error ack: %v", err)
						}
					}
				})
			}
			wg.Wait()
			cancel()
		}
		if err := q.Close(); err != nil {
			say("error close: %v", err)
			return
		}
		time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
	}
}

// killEvent is one line a process printed.
type killEvent struct {
	life int // which consumer process (for consumer lines)
	kind string
	a, b int
	c    int64 // recv: when, in µs since the epoch
}

type killProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when its output is read to the end
}

// startKillProc runs this test binary as a child with env added to its
// environment, and passes each line of its output to sink.
func startKillProc(t *testing.T, env []string, sink func(line string)) *killProc {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &killProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			sink(sc.Text())
		}
		io.Copy(io.Discard, out)
	}()
	return p
}

// killEnv is the environment of a producer or consumer child.
func killEnv(role, dir string, base, retry int) []string {
	return []string{envKillRole + "=" + role, envKillDir + "=" + dir, envKillBase + "=" + strconv.Itoa(base), envKillRetry + "=" + strconv.Itoa(retry)}
}

// kill sends SIGKILL to the process (ours, by its pid) and waits until it
// is gone and its output read.
func (p *killProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd.Wait()
}

func TestKillProducerAndConsumer(t *testing.T) {
	seconds := 20.0
	if testing.Short() {
		seconds = 3
	}
	if s, err := strconv.ParseFloat(os.Getenv("MINIQUEUE_KILL_SECONDS"), 64); err == nil {
		seconds = s
	}
	dir := t.TempDir()
	var mu sync.Mutex
	var events []killEvent // consumer lines, in order: one consumer process at a time
	tried := map[int]bool{}
	pushed := map[int]bool{}
	var failures []string
	consumerLife := 0
	lastTryID := 0               // the current producer's last push, if it was a PushWithID
	retries, retriedDups := 0, 0 // PushWithIDs retried by the next producer; those that found the first
	parse := func(line string) (string, int, int, int64) {
		f := strings.Fields(line)
		var a, b int
		var c int64
		if len(f) > 1 {
			a, _ = strconv.Atoi(f[1])
		}
		if len(f) > 2 {
			b, _ = strconv.Atoi(f[2])
		}
		if len(f) > 3 {
			c, _ = strconv.ParseInt(f[3], 10, 64)
		}
		return f[0], a, b, c
	}
	producerSink := func(line string) {
		kind, a, b, _ := parse(line)
		mu.Lock()
		defer mu.Unlock()
		switch kind {
		case "try", "try-id":
			for id := a; id <= b; id++ {
				tried[id] = true
			}
			lastTryID = 0
			if kind == "try-id" {
				lastTryID = a
			}
		case "retried":
			dup := strings.HasSuffix(line, "true")
			if pushed[a] && !dup {
				failures = append(failures, fmt.Sprintf("PushWithID of %d returned, and its retry pushed it again", a))
			}
			pushed[a] = true
			retries++
			if dup {
				retriedDups++
			}
		case "pushed":
			for id := a; id <= b; id++ {
				pushed[id] = true
			}
		default:
			failures = append(failures, "producer: "+line)
		}
	}
	consumerSink := func(line string) {
		kind, a, b, c := parse(line)
		mu.Lock()
		defer mu.Unlock()
		if kind == "error" {
			failures = append(failures, "consumer: "+line)
			return
		}
		events = append(events, killEvent{life: consumerLife, kind: kind, a: a, b: b, c: c})
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	producerLife := 0
	startProducer := func() *killProc {
		producerLife++
		mu.Lock()
		retry := lastTryID // whether its PushWithID returned or not (it stays the last push)
		mu.Unlock()
		return startKillProc(t, killEnv("producer", dir, producerLife*1_000_000, retry), producerSink)
	}
	startConsumer := func() *killProc {
		mu.Lock()
		consumerLife++
		mu.Unlock()
		return startKillProc(t, killEnv("consumer", dir, 0, 0), consumerSink)
	}
	prod, cons := startProducer(), startConsumer()
	kills := 0
	for end := time.Now().Add(time.Duration(seconds * float64(time.Second))); time.Now().Before(end); {
		time.Sleep(time.Duration(10+rng.IntN(200)) * time.Millisecond)
		if rng.IntN(2) == 0 {
			prod.kill()
			prod = startProducer()
		} else {
			cons.kill() // its lines are all read before the next one starts
			cons = startConsumer()
		}
		kills++
	}
	prod.kill()
	cons.kill()
	if len(failures) > 0 {
		t.Fatalf("the processes reported errors:\n%s", strings.Join(failures, "\n"))
	}

	// Drain what is left, in this process, recording as the children did.
	mu.Lock()
	consumerLife++
	mu.Unlock()
	o := killOptions
	o.Logger = testutil.Quiet()
	q, err := Open[int](dir, &o)
	if err != nil {
		t.Fatal(err)
	}
	c := q.Consumer("")
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for c.Lag() > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				m, err := c.Receive(ctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					continue // the rest is in flight on other goroutines
				}
				if err != nil {
					t.Errorf("final drain, lag %d: %v", c.Lag(), err)
					return
				}
				consumerSink(fmt.Sprintf("recv %d %d %d", m.Value, m.Attempt, time.Now().UnixMicro()))
				if err := m.Ack(); err != nil {
					t.Errorf("final drain: %v", err)
					return
				}
				consumerSink(fmt.Sprintf("acked %d", m.Value))
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	dead := map[int]int{} // dead letters by message
	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			t.Fatalf("dead letters: %v", err)
		}
		dead[dl.Value]++
	}
	q.Close()

	// The audit.
	acked := map[int]int{}
	termed := map[int]bool{}
	ackedAt := map[int]int{} // index of the "acked" line, or of the "termed" line
	attempts := map[[2]int]bool{}
	lastRecv := map[int]int{} // index of the last "recv" line
	recvLife := map[int]int{} // process of the last "recv"
	delayedUntil := map[int]int64{}
	delays, delaysAcrossKill := 0, 0
	deliveries, redeliveries := 0, 0
	for i, ev := range events {
		switch ev.kind {
		case "recv":
			id := ev.a
			if !tried[id] {
				t.Fatalf("message %d received, but no producer tried to push it", id)
			}
			if _, ok := ackedAt[id]; ok {
				t.Fatalf("message %d received (attempt %d) after its Ack or Term returned", id, ev.b)
			}
			if attempts[[2]int{id, ev.b}] {
				t.Fatalf("message %d delivered twice as attempt %d: a delivery count was lost", id, ev.b)
			}
			attempts[[2]int{id, ev.b}] = true
			if until, ok := delayedUntil[id]; ok {
				// The process that receives may read the clock a little
				// after the one that nacked; the queue rounds up to 1 ms.
				if ev.c < until {
					t.Fatalf("message %d delivered (attempt %d) %d µs before the end of its delay", id, ev.b, until-ev.c)
				}
				if ev.life != recvLife[id] {
					delaysAcrossKill++
				}
				delete(delayedUntil, id)
			}
			deliveries++
			if ev.b > 1 {
				redeliveries++
			}
			lastRecv[id], recvLife[id] = i, ev.life
		case "acked":
			acked[ev.a]++
			ackedAt[ev.a] = i
			if acked[ev.a] > 1 || termed[ev.a] {
				t.Fatalf("message %d acked twice, or acked and Term'd", ev.a)
			}
		case "delayed":
			delayedUntil[ev.a] = int64(ev.b)
			delays++
		case "termed":
			if termed[ev.a] || acked[ev.a] > 0 {
				t.Fatalf("message %d Term'd twice, or acked and Term'd", ev.a)
			}
			termed[ev.a] = true
			ackedAt[ev.a] = i
		}
	}
	for id, n := range dead {
		if n > 1 || acked[id] > 0 {
			t.Fatalf("message %d is %d times in the dead-letter queue (acked %d times)", id, n, acked[id])
		}
	}
	for id := range termed {
		if dead[id] != 1 {
			t.Fatalf("message %d was Term'd and is not in the dead-letter queue", id)
		}
	}
	hidden := 0
	for id := range pushed {
		if acked[id] == 1 || dead[id] == 1 {
			continue
		}
		// Not acked by the record: its last delivery's Ack may have been
		// cut off by a kill after it took effect (then, as checked above,
		// it is never received again). That delivery was in a killed
		// process, not the final drain.
		if _, ok := lastRecv[id]; !ok || recvLife[id] == consumerLife {
			t.Fatalf("message %d was pushed and never acked", id)
		}
		hidden++
	}
	for id := range acked {
		if !tried[id] {
			t.Fatalf("message %d acked, never pushed", id)
		}
	}
	t.Logf("%.0f s, %d kills (%d consumer processes); %d messages pushed (%d tried), %d deliveries, %d redeliveries, "+
		"%d Term'd (%d dead letters), %d delayed Nacks (%d redelivered by a later process), %d PushWithIDs retried after a kill "+
		"(%d found the first), %d acks whose print a kill cut off",
		seconds, kills, consumerLife-1, len(pushed), len(tried), deliveries, redeliveries, len(termed), len(dead), delays,
		delaysAcrossKill, retries, retriedDups, hidden)
	if len(pushed) == 0 || redeliveries == 0 {
		t.Fatalf("the test exercised too little: %d pushed, %d redeliveries", len(pushed), redeliveries)
	}
}

// TestLockAcrossProcesses: a second process cannot open the folder while
// the queue is open.
func TestLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	other := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envOpenOnce+"="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	q := openT[int](t, dir, nil)
	if got := other(); got != "locked" {
		t.Fatalf("second process while open: %q, want locked", got)
	}
	q.Close()
	if got := other(); got != "opened" {
		t.Fatalf("second process after Close: %q, want opened", got)
	}
}
