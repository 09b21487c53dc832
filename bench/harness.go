// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// An opFunc does operation i (numbered from 1 across all workers) on
// worker w. It returns when the operation is durable.
type opFunc func(w int, i int64) error

// measure runs op on workers goroutines and returns completed operations
// per second. With cfg.maxOps == 0 it lets them run for cfg.warm (not
// counted), then counts for cfg.dur. With cfg.maxOps > 0 (the smoke mode)
// it stops after maxOps operations or cfg.dur, whichever comes first, and
// counts from the start.
func measure(cfg *config, workers int, op opFunc) (float64, error) {
	var (
		seq, done atomic.Int64
		stop      atomic.Bool
		errMu     sync.Mutex
		firstErr  error
		wg        sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for !stop.Load() {
				i := seq.Add(1)
				if cfg.maxOps > 0 && i > cfg.maxOps {
					return
				}
				if err := op(w, i); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	var n int64
	var elapsed time.Duration
	if cfg.maxOps > 0 {
		start := time.Now()
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(cfg.dur):
		}
		n, elapsed = done.Load(), time.Since(start)
		stop.Store(true)
		<-finished
	} else {
		time.Sleep(cfg.warm)
		c0, t0 := done.Load(), time.Now()
		time.Sleep(cfg.dur)
		n, elapsed = done.Load()-c0, time.Since(t0)
		stop.Store(true)
		wg.Wait()
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n) / elapsed.Seconds(), nil
}

// childResult is what a child process prints on its standard output, as
// JSON. The peak RSS is the child's own VmHWM, not wait4's ru_maxrss: on
// Linux that also counts the parent's memory, which the child shared
// between fork and exec.
type childResult struct {
	Records  int64   `json:"records"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	AnonPeak int64   `json:"anon_peak_kib"` // sampled peak of RssAnon
	MaxRSS   int64   `json:"max_rss_kib"`   // VmHWM: the kernel's high-water mark of the process's RSS
}

// childSpec is what the parent asks a child process to do.
type childSpec struct {
	Task string `json:"task"` // noop, replay, recover-build, recover-open
	Lib  string `json:"lib"`
	Dir  string `json:"dir"`
	N    int    `json:"n"`
	Tail int    `json:"tail,omitempty"`
}

const childEnv = "MINI_BENCH_CHILD"

// runChild runs this program again with spec, in a fresh process, so that
// its peak memory is its own, and returns its result.
func runChild(spec childSpec) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	js, _ := json.Marshal(spec)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("child %s %s: %v: %s", spec.Task, spec.Lib, err, lastLines(stderr.String(), 5))
	}
	var r childResult
	if spec.Task == "recover-build" {
		return r, nil
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("child %s %s: bad output %q: %v", spec.Task, spec.Lib, out.String(), err)
	}
	return r, nil
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// childMain runs in a child process: it does spec's task and prints the
// result. recover-build ends the process without closing anything, as a
// crash would.
func childMain(js string) {
	var spec childSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		fatalf("child: %v", err)
	}
	sampler := startAnonSampler()
	var r childResult
	var err error
	switch spec.Task {
	case "noop":
	case "replay":
		r, err = replayChild(spec)
	case "recover-build":
		err = recoverBuild(spec)
		if err == nil {
			os.Exit(0) // no Close: the next Open sees a crashed process's files
		}
	case "recover-open":
		r, err = recoverOpen(spec)
	default:
		err = fmt.Errorf("unknown task %q", spec.Task)
	}
	if err != nil {
		fatalf("child %s %s: %v", spec.Task, spec.Lib, err)
	}
	r.AnonPeak = sampler()
	r.MaxRSS = procStatusKiB("VmHWM:")
	json.NewEncoder(os.Stdout).Encode(r)
	os.Exit(0)
}

// startAnonSampler reads RssAnon from /proc/self/status every 5 ms and
// returns a function giving the highest value seen (KiB), a sampled peak
// of the process's anonymous memory (heap, stacks), without the file pages
// it maps.
func startAnonSampler() func() int64 {
	var peak atomic.Int64
	read := func() {
		if v := procStatusKiB("RssAnon:"); v > peak.Load() {
			peak.Store(v)
		}
	}
	read()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				read()
			case <-stop:
				return
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		read()
		return peak.Load()
	}
}

func procStatusKiB(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(key)) {
			var v int64
			fmt.Sscanf(string(line[len(key):]), "%d", &v)
			return v
		}
	}
	return 0
}

// freshDir makes a new empty directory under root.
func freshDir(root, name string) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(root, name+"-")
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// copyTree copies the directory src to dst (regular files and directories only).
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		// On disk before a timed Open runs on it, as files are after a
		// crash and a reboot: an Open that fsyncs what it found must
		// not be timed writing back the copy's dirty pages.
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
