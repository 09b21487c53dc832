// SPDX-License-Identifier: MIT OR Apache-2.0

// Package killtest kills real processes in the middle of their work and
// checks what survived: a child process runs a workload on a directory and
// reports each operation the library acknowledged over a pipe; the parent
// kills it with SIGKILL at a random moment, and checks the directory against
// every acknowledgement it received. Then it starts the next round on the
// same directory.
//
// A test package uses it in two places:
//
//	func TestMain(m *testing.M) { killtest.Main(m, workloads) }
//
//	func TestKill(t *testing.T) {
//		killtest.Run(t, killtest.Config{Workload: "append"}, check)
//	}
//
// The child is the test binary itself, run again with an environment
// variable naming the workload.
package killtest

import (
	"bufio"
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A Workload runs in the child process until it is killed (or fails). It
// works on dir and calls ack after each operation the library acknowledged,
// with a line (no newline) describing it. round counts from 1.
type Workload func(dir string, round int, ack func(line string)) error

const (
	envWorkload = "MINI_KILLTEST_WORKLOAD"
	envDir      = "MINI_KILLTEST_DIR"
	envRound    = "MINI_KILLTEST_ROUND"
)

// Main runs the workload named by the environment, if any, and exits;
// otherwise it runs the tests. Call it from TestMain.
func Main(m *testing.M, workloads map[string]Workload) {
	name := os.Getenv(envWorkload)
	if name == "" {
		os.Exit(m.Run())
	}
	w, ok := workloads[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "killtest: no workload %q\n", name)
		os.Exit(3)
	}
	round, _ := strconv.Atoi(os.Getenv(envRound))
	var mu sync.Mutex
	ack := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		// One write per line: a write of less than PIPE_BUF bytes to a
		// pipe is atomic, so the parent never sees half a line.
		os.Stdout.Write([]byte(line + "\n"))
	}
	if err := w(os.Getenv(envDir), round, ack); err != nil {
		fmt.Fprintf(os.Stderr, "killtest: workload %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Config says how to run the rounds. Zero fields take the defaults, which
// the environment can raise: MINI_KILL_ROUNDS and MINI_KILL_SECONDS.
type Config struct {
	Workload string
	Rounds   int           // default 20, or MINI_KILL_ROUNDS
	Budget   time.Duration // stop starting rounds after this long; default 20s, or MINI_KILL_SECONDS
	MinRun   time.Duration // shortest time a child runs before the kill; default 20ms
	MaxRun   time.Duration // longest; default 300ms
	Seed     uint64        // for the kill moments; default from the clock (logged)
}

// Stats says what Run did.
type Stats struct {
	Rounds int // children started and killed
	Acks   int // acknowledgements received in all
}

// Run kills a child running cfg.Workload round after round on one directory.
// After each round it calls check with the directory and every acknowledgement
// received so far, in the order received, each round's after the last's;
// check reopens what the child left and returns an error if anything
// acknowledged is missing or wrong. A failing check, or a child that exits
// with an error before it is killed, fails the test.
func Run(t *testing.T, cfg Config, check func(dir string, acks []string) error) Stats {
	t.Helper()
	cfg.defaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b696c6c))
	t.Logf("workload %s: up to %d rounds in %v, seed %d", cfg.Workload, cfg.Rounds, cfg.Budget, cfg.Seed)
	dir := t.TempDir()
	var acks []string
	var st Stats
	start := time.Now()
	for round := 1; round <= cfg.Rounds && time.Since(start) < cfg.Budget; round++ {
		got, exited, err := runChild(cfg.Workload, dir, round, cfg.MinRun+time.Duration(rng.Int64N(int64(cfg.MaxRun-cfg.MinRun)+1)))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if exited {
			t.Fatalf("round %d: the child finished before it was killed", round)
		}
		acks = append(acks, got...)
		st.Rounds++
		st.Acks += len(got)
		if err := check(dir, acks); err != nil {
			t.Fatalf("round %d (killed after %d acknowledgements this round, %d in all): %v", round, len(got), len(acks), err)
		}
	}
	t.Logf("workload %s: %d rounds, %d acknowledged operations, every one found after its kill", cfg.Workload, st.Rounds, st.Acks)
	return st
}

func (c *Config) defaults() {
	if n, err := strconv.Atoi(os.Getenv("MINI_KILL_ROUNDS")); err == nil && n > 0 {
		c.Rounds = max(c.Rounds, n)
	}
	if n, err := strconv.Atoi(os.Getenv("MINI_KILL_SECONDS")); err == nil && n > 0 {
		c.Budget = max(c.Budget, time.Duration(n)*time.Second)
	}
	c.Rounds = cmp.Or(c.Rounds, 20)
	c.Budget = cmp.Or(c.Budget, 20*time.Second)
	c.MinRun = cmp.Or(c.MinRun, 20*time.Millisecond)
	if c.MaxRun < c.MinRun {
		c.MaxRun = max(c.MinRun, 300*time.Millisecond)
	}
	c.Seed = cmp.Or(c.Seed, uint64(time.Now().UnixNano()))
}

// runChild runs one round: start, wait for the first acknowledgement (so
// the kill lands in the middle of work, not in start-up), let it run for
// d, SIGKILL it, and return the acknowledgements it printed.
func runChild(workload, dir string, round int, d time.Duration) (acks []string, exited bool, err error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorkload+"="+workload, envDir+"="+dir, envRound+"="+strconv.Itoa(round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, false, err
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	first := time.After(10 * time.Second)
	var timer <-chan time.Time
	recv := lines // nil once closed, so the select stops taking it
	for {
		select {
		case l, ok := <-recv:
			if !ok {
				recv = nil
				continue
			}
			acks = append(acks, l)
			if timer == nil {
				timer = time.After(d)
			}
			continue
		case <-first:
			if timer == nil {
				cmd.Process.Kill()
				cmd.Wait()
				return nil, false, fmt.Errorf("no acknowledgement within 10s; stderr: %s", stderr.String())
			}
			continue
		case <-timer:
		}
		break
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		exited = true
	}
	// Read what was in the pipe when it died, up to the end, before Wait:
	// Wait closes the pipe, and lines still in it would be lost (and the
	// check would then see applied operations that were never acknowledged).
	for l := range lines {
		acks = append(acks, l)
	}
	werr := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !ws.Signaled() {
		return acks, true, fmt.Errorf("child exited by itself (%v); stderr: %s", werr, stderr.String())
	}
	return acks, exited, nil
}
