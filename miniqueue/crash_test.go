// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

import (
	"context"
	"errors"
	"fmt"
	"github.com/mini-go/mini/internal/crashtest"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mini-go/mini/ministore"
	"github.com/mini-go/mini/vfs"
)

// The crash tests run a scripted push/receive/ack/nack workload on the
// simulated file system and crash it before each of its operations in turn
// (also keeping a random part of the unsynced data, out of order), or fail
// that operation with EIO or ENOSPC. Then they open the queue on what the
// disk holds, drain every consumer, and check it against what the workload
// had been told:
//
//   - no message whose Push returned is lost: each is acknowledged, or
//     delivered in the drain, or in the dead-letter queue;
//   - no message whose Ack returned is delivered again, before or after;
//   - a message is delivered again with a higher Attempt than any delivery
//     of it the workload saw (delivery counts survive the crash);
//   - nothing that was never pushed is delivered, nothing twice in a drain,
//     and a dead letter is there once.
//
// Segments, checkpoints and truncations are made tiny so that they happen
// many times within a few dozen messages.

const crashDir = "/q"

type crashScenario struct {
	name   string
	opts   Options
	script string // tokens: C<name> create consumer, P push, U PushWithID, B<n> batch, R<name> receive, A<name> ack, N<name> nack, D<name> nack with a delay, T<name> term, Z purge all, E delete the newest P, L push for 20 s later, X reopen
}

func tinyOptions(o Options) Options {
	o.MaxSegmentBytes = 200
	o.consSegmentBytes = 400
	o.checkpointBytes = 300
	o.VisibilityTimeout = time.Hour
	if o.MaxDeliveries == 0 {
		o.MaxDeliveries = -1
	}
	return o
}

func crashScenarios() []crashScenario {
	return []crashScenario{
		{"one consumer", tinyOptions(Options{}),
			"C P P P R A R P R A A P B3 R R A R A N R A A R A P P R A R A"},
		{"fan-out and reopen", tinyOptions(Options{}),
			"C Cb P P B2 R Rb A R Ab Rb X R Rb A Ab P R A Rb Ab Rb Ab R A X Rb Ab R A"},
		{"dead letters", tinyOptions(Options{MaxDeliveries: 2}),
			"C P P P R N R N R A R N R A P R N R N R A X R A R A"},
		{"back-off", tinyOptions(Options{BackOff: []time.Duration{time.Second, 3 * time.Second}}),
			"C Cb P P P R D Rb N R A R Rb A X R A Rb D P R Rb A X R A Rb A R N R A Rb A"},
		{"de-duplication", tinyOptions(Options{DedupWindow: time.Hour}),
			"C Cb U U P R A Rb U Ab R A X U R A Rb Ab Rb Ab"},
		{"purge, delete, push at", tinyOptions(Options{}),
			"C Cb P P E R A Rb Ab P L P R Z A Rb Ab P R A X P P E Rb Ab R A Rb Ab R A L P R A X R A Rb Ab"},
		{"term", tinyOptions(Options{}),
			"C Cb P P P R T Rb A R N R T Rb Tb X R A Rb Tb"},
	}
}

// crashModel is what the workload was told.
type crashModel struct {
	consumers []string
	nextID    int
	pushed    map[int]bool                 // Push returned nil
	maybe     map[int]bool                 // Push interrupted: may be there
	acked     map[string]map[int]bool      // Ack returned nil
	acking    map[string]map[int]bool      // Ack called: may have taken effect
	termed    map[string]map[int]bool      // Term returned nil: in the dead-letter queue once
	terming   map[string]map[int]bool      // Term called: may have taken effect
	attempts  map[string]map[int]int       // highest Attempt Receive returned
	delayed   map[string]map[int]time.Time // Nack returned nil: not delivered again before
	withID    map[int]uint64               // pushed with PushWithID: its sequence number, 0 if not known
	seqOf     map[int]uint64               // sequence numbers of the messages P pushed
	removing  map[int]bool                 // Purge or Delete called while the message was there
	removed   map[int]bool                 // ... and returned: never delivered again
	notBefore map[int]time.Time            // PushAt: not delivered before
	held      map[string][]*Message[int]
}

func newCrashModel() *crashModel {
	return &crashModel{nextID: 1, pushed: map[int]bool{}, maybe: map[int]bool{},
		acked: map[string]map[int]bool{}, acking: map[string]map[int]bool{}, termed: map[string]map[int]bool{},
		terming: map[string]map[int]bool{}, attempts: map[string]map[int]int{}, delayed: map[string]map[int]time.Time{}, withID: map[int]uint64{}, seqOf: map[int]uint64{},
		removing: map[int]bool{}, removed: map[int]bool{}, notBefore: map[int]time.Time{}, held: map[string][]*Message[int]{}}
}

// violation is a broken promise seen during the workload itself.
type violation struct{ msg string }

func (v *violation) Error() string { return v.msg }

func (m *crashModel) addConsumer(name string) {
	m.consumers = append(m.consumers, name)
	m.acked[name] = map[int]bool{}
	m.acking[name] = map[int]bool{}
	m.termed[name] = map[int]bool{}
	m.terming[name] = map[int]bool{}
	m.attempts[name] = map[int]int{}
	m.delayed[name] = map[int]time.Time{}
}

// runCrashWorkload runs the script until the first error.
func runCrashWorkload(sc crashScenario, fsys vfs.FS, m *crashModel) (err error) {
	q, err := Open[int](crashDir, withFS(sc.opts, fsys))
	if err != nil {
		return err
	}
	defer func() {
		if q == nil {
			return
		}
		if cerr := q.Close(); err == nil {
			err = cerr
		}
	}()
	for _, tok := range strings.Fields(sc.script) {
		op, arg := tok[:1], tok[1:]
		switch op {
		case "C":
			c := q.Consumer(arg)
			if c.err != nil {
				return c.err
			}
			m.addConsumer(arg)
		case "P":
			id := m.nextID
			m.nextID++
			m.maybe[id] = true
			seq, err := q.Push(id)
			if err != nil {
				return err
			}
			delete(m.maybe, id)
			m.pushed[id] = true
			m.seqOf[id] = seq
		case "L":
			id := m.nextID
			m.nextID++
			m.maybe[id] = true
			m.notBefore[id] = time.Now().Add(20 * time.Second)
			if _, err := q.PushAt(time.Now().Add(20*time.Second), id); err != nil {
				return err
			}
			delete(m.maybe, id)
			m.pushed[id] = true
		case "Z":
			var ids []int
			for id := range m.nextID {
				if m.pushed[id] || m.maybe[id] {
					m.removing[id] = true
					ids = append(ids, id)
				}
			}
			if err := q.Purge(0); err != nil {
				return err
			}
			for _, id := range ids {
				m.removed[id] = true
			}
		case "E":
			id := 0
			for i, seq := range m.seqOf {
				if !m.removing[i] && seq > 0 && i > id {
					id = i
				}
			}
			if id == 0 {
				continue
			}
			m.removing[id] = true
			if err := q.Delete(m.seqOf[id]); err != nil && !errors.Is(err, ErrNoMessage) {
				return err // (ErrNoMessage: every consumer had acknowledged it)
			}
			m.removed[id] = true
		case "U":
			id := m.nextID
			m.nextID++
			m.maybe[id] = true
			m.withID[id] = 0
			seq, dup, err := q.PushWithID(dedupID(id), id)
			if err != nil {
				return err
			}
			if dup {
				return &violation{fmt.Sprintf("first PushWithID of id %d reported a duplicate (seq %d)", id, seq)}
			}
			delete(m.maybe, id)
			m.pushed[id] = true
			m.withID[id] = seq
		case "B":
			n, _ := strconv.Atoi(arg)
			ids := make([]int, n)
			for i := range ids {
				ids[i] = m.nextID
				m.maybe[ids[i]] = true
				m.nextID++
			}
			if _, _, err := q.PushBatch(ids...); err != nil {
				return err
			}
			for _, id := range ids {
				delete(m.maybe, id)
				m.pushed[id] = true
			}
		case "R":
			c := q.Consumer(arg)
			if c.Lag() <= len(m.held[arg]) {
				continue // nothing to receive (dead-lettered, say)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			msg, err := c.Receive(ctx)
			cancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && (c.Lag() <= len(m.held[arg]) || len(m.delayed[arg]) > 0 || len(m.notBefore) > 0) {
					continue // the rest went to the dead-letter queue, or waits out a delay
				}
				return err
			}
			if until, ok := m.delayed[arg][msg.Value]; ok && time.Now().Before(until) {
				return &violation{fmt.Sprintf("consumer %q: id %d delivered %v before the end of its delay", arg, msg.Value, time.Until(until))}
			}
			delete(m.delayed[arg], msg.Value)
			if m.removed[msg.Value] {
				return &violation{fmt.Sprintf("consumer %q: id %d delivered after a Purge or Delete of it returned", arg, msg.Value)}
			}
			if nb, ok := m.notBefore[msg.Value]; ok && time.Now().Before(nb) {
				return &violation{fmt.Sprintf("consumer %q: id %d pushed for later delivered %v early", arg, msg.Value, time.Until(nb))}
			}
			if m.acked[arg][msg.Value] {
				return &violation{fmt.Sprintf("consumer %q: message %d (id %d) delivered again after its Ack", arg, msg.Seq, msg.Value)}
			}
			if m.termed[arg][msg.Value] {
				return &violation{fmt.Sprintf("consumer %q: message %d (id %d) delivered again after its Term", arg, msg.Seq, msg.Value)}
			}
			if msg.Attempt <= m.attempts[arg][msg.Value] {
				return &violation{fmt.Sprintf("consumer %q: id %d delivered with attempt %d after attempt %d", arg, msg.Value, msg.Attempt, m.attempts[arg][msg.Value])}
			}
			m.attempts[arg][msg.Value] = msg.Attempt
			m.held[arg] = append(m.held[arg], msg)
		case "A", "N", "D", "T":
			if len(m.held[arg]) == 0 {
				continue
			}
			msg := m.held[arg][0]
			m.held[arg] = m.held[arg][1:]
			if op == "N" || op == "D" {
				delay := backoff(sc.opts.BackOff, msg.Attempt)
				if op == "D" {
					delay = 20 * time.Second
				}
				until := time.Now().Add(delay)
				if err := msg.Nack(delay); err != nil {
					return err
				}
				if delay > 0 {
					m.delayed[arg][msg.Value] = until
				}
				continue
			}
			if op == "T" {
				m.terming[arg][msg.Value] = true
				if err := msg.Term("crash test"); err != nil {
					return err
				}
				m.termed[arg][msg.Value] = true
				continue
			}
			m.acking[arg][msg.Value] = true
			if err := msg.Ack(); err != nil {
				if errors.Is(err, ErrAcked) && m.removing[msg.Value] {
					continue // purged or deleted meanwhile
				}
				return err
			}
			m.acked[arg][msg.Value] = true
		case "X":
			clear(m.held)
			err := q.Close()
			q = nil
			if err != nil {
				return err
			}
			if q, err = Open[int](crashDir, withFS(sc.opts, fsys)); err != nil {
				q = nil
				return err
			}
		}
	}
	return nil
}

// checkRecovered opens the queue on fsys, drains every consumer and checks
// what it finds against the model. It returns a description of what is
// wrong, or "".
func checkRecovered(sc crashScenario, fsys vfs.FS, m *crashModel) string {
	q, err := Open[int](crashDir, withFS(sc.opts, fsys))
	if err != nil {
		return fmt.Sprintf("reopen: %v", err)
	}
	defer q.Close()
	// A producer that does not know whether its PushWithID went through
	// retries it: that gives one message, and, if the first had returned,
	// the first one's sequence number. (The model is left as it is: it is
	// checked against more than one disk.)
	pushed := maps.Clone(m.pushed)
	for id, want := range m.withID {
		seq, dup, err := q.PushWithID(dedupID(id), id)
		switch {
		case err != nil:
			return fmt.Sprintf("retry of PushWithID(%d): %v", id, err)
		case m.pushed[id] && (!dup || seq != want):
			return fmt.Sprintf("retry of PushWithID(%d), pushed as %d: got %d, duplicate %v", id, want, seq, dup)
		}
		pushed[id] = true // there now, once
	}
	drained := map[string]map[int]int{}
	for _, name := range m.consumers {
		drained[name] = map[int]int{}
		c := q.Consumer(name)
		if c.err != nil {
			return fmt.Sprintf("consumer %q: %v", name, c.err)
		}
		for c.Lag() > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // longer than any delay
			msg, err := c.Receive(ctx)
			cancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && c.Lag() == 0 {
					break // the last ones went to the dead-letter queue
				}
				return fmt.Sprintf("drain %q: %v (lag %d)", name, err, c.Lag())
			}
			id := msg.Value
			switch until, delayed := m.delayed[name][id]; {
			case m.removed[id]:
				return fmt.Sprintf("consumer %q: id %d was purged or deleted, delivered after the crash", name, id)
			case !m.notBefore[id].IsZero() && time.Now().Before(m.notBefore[id]):
				return fmt.Sprintf("consumer %q: id %d pushed for later delivered %v early after the crash", name, id, time.Until(m.notBefore[id]))
			case delayed && time.Now().Before(until):
				return fmt.Sprintf("consumer %q: id %d delivered after the crash %v before the end of its delay", name, id, time.Until(until))
			case m.acked[name][id]:
				return fmt.Sprintf("consumer %q: id %d (seq %d) was acknowledged, delivered again after the crash", name, id, msg.Seq)
			case m.termed[name][id]:
				return fmt.Sprintf("consumer %q: id %d (seq %d) was Term'd, delivered again after the crash", name, id, msg.Seq)
			case drained[name][id] > 0:
				return fmt.Sprintf("consumer %q: id %d delivered twice in one drain", name, id)
			case !pushed[id] && !m.maybe[id]:
				return fmt.Sprintf("consumer %q: id %d was never pushed", name, id)
			case msg.Attempt <= m.attempts[name][id]:
				return fmt.Sprintf("consumer %q: id %d delivered with attempt %d, but attempt %d was seen before the crash",
					name, id, msg.Attempt, m.attempts[name][id])
			}
			drained[name][id] = msg.Attempt
			if err := msg.Ack(); err != nil {
				return fmt.Sprintf("ack in drain: %v", err)
			}
		}
	}
	type key struct {
		c  string
		id int
	}
	dead := map[key]bool{}
	for dl, err := range q.DeadLetters().All() {
		if err != nil {
			return fmt.Sprintf("dead letters: %v", err)
		}
		k := key{dl.Consumer, dl.Value}
		switch {
		case dead[k]:
			return fmt.Sprintf("id %d is in the dead-letter queue twice for consumer %q", dl.Value, dl.Consumer)
		case m.acked[dl.Consumer][dl.Value]:
			return fmt.Sprintf("consumer %q: id %d was acknowledged, and is in the dead-letter queue", dl.Consumer, dl.Value)
		case strings.HasPrefix(dl.Reason, "Term") && !m.terming[dl.Consumer][dl.Value]:
			return fmt.Sprintf("consumer %q: id %d is in the dead-letter queue by Term, never Term'd", dl.Consumer, dl.Value)
		case drained[dl.Consumer][dl.Value] > 0:
			return fmt.Sprintf("consumer %q: id %d was delivered after the crash, and is in the dead-letter queue", dl.Consumer, dl.Value)
		}
		dead[k] = true
	}
	for _, name := range m.consumers {
		for id := range pushed {
			if !m.acking[name][id] && drained[name][id] == 0 && !dead[key{name, id}] && !m.removing[id] {
				return fmt.Sprintf("consumer %q: id %d was pushed and never acknowledged, and is lost", name, id)
			}
		}
		for id := range m.termed[name] {
			if !dead[key{name, id}] {
				return fmt.Sprintf("consumer %q: id %d was Term'd and is not in the dead-letter queue", name, id)
			}
		}
	}
	// The queue goes on working.
	seq, err := q.Push(-1)
	if err != nil {
		return fmt.Sprintf("push after recovery: %v", err)
	}
	if len(m.consumers) > 0 {
		c := q.Consumer(m.consumers[0])
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		msg, err := c.Receive(ctx)
		if err != nil || msg.Seq != seq || msg.Value != -1 {
			return fmt.Sprintf("receive after recovery: %v, %v; want seq %d", msg, err, seq)
		}
	}
	return ""
}

func TestCrashAtEveryOperation(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(7, uint64(len(sc.name))))
			points, partial := 0, 0
			for k := 1; ; k++ {
				for variant := range crashtest.Variants() {
					if variant > 0 && (testing.Short() || (k%2 == 0 && !crashtest.Raised())) {
						continue
					}
					var crash vfs.CrashOptions
					if variant > 0 {
						crash = vfs.CrashOptions{Rand: rand.New(rand.NewPCG(rng.Uint64(), 0)), KeepUnsynced: 0.5}
						partial++
					}
					crashed := true
					// In a bubble, a Receive that finds nothing (the message
					// went to the dead-letter queue) times out at once.
					synctest.Test(t, func(t *testing.T) {
						crashed = crashOnce(t, sc, k, variant, crash)
					})
					if !crashed {
						if variant == 0 {
							t.Logf("%d crash points (%d keeping part of the unsynced data)", points, partial)
							return
						}
						continue
					}
					points++
				}
			}
		})
	}
}

// crashOnce runs the workload with a crash before operation k and checks
// the recovered queue. It reports whether the crash happened (false: the
// workload has fewer operations).
func crashOnce(t *testing.T, sc crashScenario, k, variant int, crash vfs.CrashOptions) bool {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	ff.CrashAt(k)
	ff.SetCrashOptions(crash)
	m := newCrashModel()
	err := runCrashWorkload(sc, ff, m)
	var v *violation
	if errors.As(err, &v) {
		t.Fatalf("crash at op %d (variant %d): %v", k, variant, v)
	}
	disk := ff.Crashed()
	if disk == nil {
		if err != nil {
			t.Fatalf("workload failed without a crash: %v", err)
		}
		if msg := checkRecovered(sc, mem, m); msg != "" {
			t.Fatalf("after the whole workload: %s", msg)
		}
		return false
	}
	if !errors.Is(err, vfs.ErrCrashed) {
		t.Fatalf("crash at op %d: workload error %v does not match ErrCrashed", k, err)
	}
	if msg := checkRecovered(sc, disk, m); msg != "" {
		t.Fatalf("crash before op %d (variant %d): %s", k, variant, msg)
	}
	return true
}

// TestIOErrorAtEveryOperation fails each operation in turn with EIO or
// ENOSPC: the call reports it, and nothing acknowledged is lost, whether
// the process then reopens the queue or the machine loses power.
func TestIOErrorAtEveryOperation(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			crashtest.ErrorSweep(t, func(in *crashtest.Injection) {
				synctest.Test(t, func(t *testing.T) { failOnce(t, sc, in) })
			})
		})
	}
}

// failOnce runs the workload with in's operation failing and checks the
// queue reopened, with and without a power loss.
func failOnce(t *testing.T, sc crashScenario, in *crashtest.Injection) {
	m := newCrashModel()
	err := runCrashWorkload(sc, in.FS, m)
	var v *violation
	if errors.As(err, &v) {
		t.Fatalf("error at op %d (%v): %v", in.K, in.Op(), v)
	}
	if !in.Reached(t, err, ministore.ErrFailed) {
		return
	}
	powerLoss := in.Mem.CrashClone(vfs.CrashOptions{})
	if msg := checkRecovered(sc, in.FS, m); msg != "" {
		t.Fatalf("error at op %d (%v), reopened: %s", in.K, in.Op(), msg)
	}
	if msg := checkRecovered(sc, powerLoss, m); msg != "" {
		t.Fatalf("error at op %d (%v), then power loss: %s", in.K, in.Op(), msg)
	}
}

// TestCrashConcurrent crashes a workload of concurrent producers and
// competing receivers (two consumers, two goroutines each, acking most
// messages and nacking some) at random operations, so that checkpoints and
// truncations race with pushes, deliveries and acks. The checks are those
// of the scripted tests. (vfs.Faulty makes the crash wait for operations in
// flight, so every fsync that returned nil is in the crash image.)
func TestCrashConcurrent(t *testing.T) {
	sc := crashScenario{name: "concurrent", opts: tinyOptions(Options{})}
	rounds := 60
	if testing.Short() {
		rounds = 5
	}
	var total int
	synctest.Test(t, func(t *testing.T) {
		ff := vfs.NewFaulty(vfs.NewMem())
		if err := runConcurrentWorkload(sc, ff, newCrashModel(), 1); err != nil {
			t.Fatalf("workload without a crash: %v", err)
		}
		total = ff.Ops()
	})
	t.Logf("%d rounds, crashing at random among %d operations", rounds, total)
	rng := rand.New(rand.NewPCG(11, 12))
	for r := range rounds {
		k := 1 + rng.IntN(total)
		seed := rng.Uint64()
		synctest.Test(t, func(t *testing.T) {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			ff.CrashAt(k)
			if r%2 == 1 {
				ff.SetCrashOptions(vfs.CrashOptions{Rand: rand.New(rand.NewPCG(seed, 1)), KeepUnsynced: 0.5})
			}
			m := newCrashModel()
			err := runConcurrentWorkload(sc, ff, m, seed)
			var v *violation
			if errors.As(err, &v) {
				t.Fatalf("round %d, crash at op %d: %v", r, k, v)
			}
			disk := ff.Crashed()
			if disk == nil {
				disk = mem
			}
			if msg := checkRecovered(sc, disk, m); msg != "" {
				t.Fatalf("round %d, crash at op %d of %d: %s", r, k, total, msg)
			}
		})
	}
}

// runConcurrentWorkload pushes 60 messages from 3 goroutines while 2
// consumers with 2 receivers each take them, until all are acked or the
// first error. The model is updated under a lock.
func runConcurrentWorkload(sc crashScenario, fsys vfs.FS, m *crashModel, seed uint64) error {
	q, err := Open[int](crashDir, withFS(sc.opts, fsys))
	if err != nil {
		return err
	}
	var mu sync.Mutex // guards m and firstErr
	var firstErr error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := func(err error) { // stop everything at the first error
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	names := []string{"a", "b"}
	for _, n := range names {
		if c := q.Consumer(n); c.err != nil {
			q.Close()
			return c.err
		}
		m.addConsumer(n)
	}
	const perProducer = 20
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Go(func() {
			for i := range perProducer {
				if ctx.Err() != nil {
					return
				}
				id := 1 + p*perProducer + i
				mu.Lock()
				m.maybe[id] = true
				mu.Unlock()
				if _, err := q.Push(id); err != nil {
					fail(err)
					return
				}
				mu.Lock()
				delete(m.maybe, id)
				m.pushed[id] = true
				mu.Unlock()
			}
		})
	}
	var acks atomic.Int64
	for ci, n := range names {
		c := q.Consumer(n)
		for w := range 2 {
			rng := rand.New(rand.NewPCG(seed, uint64(ci*2+w)))
			wg.Go(func() {
				for {
					msg, err := c.Receive(ctx)
					if err != nil {
						if ctx.Err() == nil {
							fail(err)
						}
						return
					}
					mu.Lock()
					if m.acked[n][msg.Value] {
						mu.Unlock()
						fail(&violation{fmt.Sprintf("consumer %q: id %d delivered again after its Ack", n, msg.Value)})
						return
					}
					if msg.Attempt <= m.attempts[n][msg.Value] {
						mu.Unlock()
						fail(&violation{fmt.Sprintf("consumer %q: id %d attempt %d after attempt %d", n, msg.Value, msg.Attempt, m.attempts[n][msg.Value])})
						return
					}
					m.attempts[n][msg.Value] = msg.Attempt
					nack := rng.IntN(5) == 0
					if !nack {
						m.acking[n][msg.Value] = true
					}
					mu.Unlock()
					if nack {
						if err := msg.Nack(0); err != nil {
							fail(err)
							return
						}
						continue
					}
					if err := msg.Ack(); err != nil {
						fail(err)
						return
					}
					mu.Lock()
					m.acked[n][msg.Value] = true
					mu.Unlock()
					if acks.Add(1) == 2*3*perProducer {
						cancel()
					}
				}
			})
		}
	}
	wg.Wait()
	cancel()
	if err := q.Close(); firstErr == nil {
		firstErr = err
	}
	return firstErr
}

func dedupID(id int) string { return "id-" + strconv.Itoa(id) }
