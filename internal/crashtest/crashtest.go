// SPDX-License-Identifier: MIT OR Apache-2.0

// Package crashtest holds what the crash tests of the mini packages share.
package crashtest

import (
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mini-go/mini/vfs"
)

// Variants is how many crashes each crash point of a crash test gets: one
// that keeps exactly the synced state, and Variants()-1 that each keep a
// random part of the unsynced data, written back out of order. The
// environment variable MINI_CRASH_VARIANTS raises it; the default is 3.
// Tests may spread the random ones over their crash points (every other
// point, say) at the default, and do them at every point when raised.
func Variants() int {
	if n, err := strconv.Atoi(os.Getenv("MINI_CRASH_VARIANTS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// Raised reports whether MINI_CRASH_VARIANTS asks for more than the default.
func Raised() bool { return Variants() != 3 }

// An Injection is one run of a workload with its K-th file-system operation
// failing. The run's workload goes on FS, then calls [Injection.Reached]
// with the workload's error, and if that reports true, checks what the
// workload left on FS (the process goes on) and on a
// Mem.CrashClone(vfs.CrashOptions{}) (the power fails).
type Injection struct {
	K   int         // the operation that fails; the first is 1
	Err error       // what it fails with: syscall.EIO if K is odd, syscall.ENOSPC if even
	Mem *vfs.Mem    // the disk, new and empty for each run
	FS  *vfs.Faulty // Mem, with operation K failing

	mu      sync.Mutex
	op      vfs.Op // operation K, once it has started
	checked bool   // Reached was called
}

// Op returns operation K, or the zero Op if the workload has not got to it.
func (in *Injection) Op() vfs.Op {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.op
}

// Reached checks the error err of the workload and reports whether the
// workload got to operation K, and so had it fail. If it did not, the
// workload must have succeeded: err must be nil. If it did, err must be
// nil (the workload went on past the error, as a background task that
// logs it does) or wrap Err or one of also. A check that fails is fatal to
// t.
func (in *Injection) Reached(t testing.TB, err error, also ...error) bool {
	t.Helper()
	in.mu.Lock()
	in.checked = true
	op := in.op
	in.mu.Unlock()
	if op.N == 0 {
		if err != nil {
			t.Fatalf("workload failed without an injected error: %v", err)
		}
		return false
	}
	if err == nil || errors.Is(err, in.Err) {
		return true
	}
	want := []string{in.Err.Error()}
	for _, e := range also {
		if errors.Is(err, e) {
			return true
		}
		want = append(want, e.Error())
	}
	t.Fatalf("op %d (%v) failed with %v; the error does not wrap %s", in.K, op, err, strings.Join(want, " or "))
	return true
}

// ErrorSweep fails each file-system operation of a workload in turn. It
// calls run with an Injection for K = 1, 2, …, each on a new disk, until a
// run in which the workload did fewer than K operations, then logs how
// many operations it failed. A workload that performs no file-system
// operation at all fails t: a sweep that exercised nothing proves
// nothing. run must call [Injection.Reached]; it may
// call t's Fatal methods, or those of a t of its own (as in a
// synctest.Test bubble) if that stops the test too.
func ErrorSweep(t testing.TB, run func(in *Injection)) {
	t.Helper()
	for k := 1; ; k++ {
		in := newInjection(k)
		run(in)
		in.mu.Lock()
		checked, reached := in.checked, in.op.N != 0
		in.mu.Unlock()
		if !checked {
			t.Fatalf("crashtest.ErrorSweep: the run failing op %d did not call Injection.Reached", k)
		}
		if !reached {
			if k == 1 {
				t.Fatalf("crashtest.ErrorSweep: the workload performed no file-system operation on Injection.FS; the sweep exercised nothing")
			}
			t.Logf("%d operations, each failed once", k-1)
			return
		}
	}
}

// newInjection returns an Injection failing operation k of a new disk.
func newInjection(k int) *Injection {
	in := &Injection{K: k, Err: syscall.EIO, Mem: vfs.NewMem()}
	if k%2 == 0 {
		in.Err = syscall.ENOSPC
	}
	in.FS = vfs.NewFaulty(in.Mem)
	in.FS.FailWhen(func(op vfs.Op) error {
		if op.N != k {
			return nil
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		in.op = op
		return in.Err
	})
	return in
}

// A Crash is one run of a workload on a disk whose power fails as
// operation K starts. The run's workload goes on FS, then calls
// [Crash.Crashed] with the workload's error; if that reports true, the
// run checks what the disk kept, Disk().
type Crash struct {
	K       int         // the operation the power fails at; the first is 1
	Variant int         // 0: the disk keeps exactly what was synced; above 0: and some of the rest
	Mem     *vfs.Mem    // the disk, new and empty for each run
	FS      *vfs.Faulty // Mem, losing power at operation K

	checked bool // Crashed was called
	crashed bool
}

// Disk returns what the disk held after the power failed, or nil if the
// workload finished before operation K.
func (c *Crash) Disk() *vfs.Mem { return c.FS.Crashed() }

// Crashed checks the error err of the workload and reports whether the
// power failed during it. If it did not, the workload must have succeeded:
// err must be nil. If it did, err must match vfs.ErrCrashed. A check that
// fails is fatal to t.
func (c *Crash) Crashed(t testing.TB, err error) bool {
	t.Helper()
	c.checked = true
	if c.Disk() == nil {
		if err != nil {
			t.Fatalf("workload failed without a crash: %v", err)
		}
		return false
	}
	if !errors.Is(err, vfs.ErrCrashed) {
		t.Fatalf("crash at op %d: workload error %v does not match ErrCrashed", c.K, err)
	}
	c.crashed = true
	return true
}

// CrashSweep cuts the power at each file-system operation of a workload in
// turn. For K = 1, 2, … it calls run with a Crash of variant 0, and with
// Variants()-1 more whose disks also keep a random part of the unsynced
// data (drawn from a generator seeded with seed1, seed2); at the default
// Variants it does those only at odd K, and it skips them under -short.
// It stops after the first variant-0 run in which the workload finished
// before operation K, and logs how many crash points it checked. A
// workload that performs no file-system operation at all fails t: a sweep
// that exercised nothing proves nothing. run must call [Crash.Crashed].
func CrashSweep(t testing.TB, seed1, seed2 uint64, run func(c *Crash)) {
	t.Helper()
	points, partial := 0, 0
	rng := rand.New(rand.NewPCG(seed1, seed2))
	for k := 1; ; k++ {
		for variant := range Variants() {
			if variant > 0 && (testing.Short() || (k%2 == 0 && !Raised())) {
				continue
			}
			c := &Crash{K: k, Variant: variant, Mem: vfs.NewMem()}
			c.FS = vfs.NewFaulty(c.Mem)
			c.FS.CrashAt(k)
			if variant > 0 {
				c.FS.SetCrashOptions(vfs.CrashOptions{Rand: rand.New(rand.NewPCG(rng.Uint64(), 0)), KeepUnsynced: 0.5})
				partial++
			}
			run(c)
			if !c.checked {
				t.Fatalf("crashtest.CrashSweep: the run crashing at op %d did not call Crash.Crashed", k)
			}
			if !c.crashed {
				if variant == 0 {
					if points == 0 {
						t.Fatalf("crashtest.CrashSweep: the workload performed no file-system operation on Crash.FS; the sweep exercised nothing")
					}
					t.Logf("%d crash points (%d with partial loss of unsynced data)", points, partial)
					return
				}
				continue
			}
			points++
		}
	}
}
