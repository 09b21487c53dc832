// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Proc is one node process: the test binary run again with EnvNode set.
type Proc struct {
	ID     string
	Dir    string
	Client string // address of its client protocol (Request/Response lines)
	Raft   string // its raft address (what the other nodes' proxies target)
	cmd    *exec.Cmd
	exited chan struct{}

	mu      sync.Mutex
	stopped bool // SIGSTOP'd
}

// startProc starts a node process and waits for it to serve. Its stderr
// is appended to DIR.log.
func startProc(cfg NodeConfig) (*Proc, error) {
	env, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(cfg.Dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- %s start (memdisk %v)\n", time.Now().Format(time.RFC3339Nano), cfg.MemDisk)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), EnvNode+"="+string(env))
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{ID: cfg.ID, Dir: cfg.Dir, cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		ready <- line
		io.Copy(io.Discard, r)
		cmd.Wait()
		close(p.exited)
	}()
	var line string
	select {
	case line = <-ready:
	case <-time.After(60 * time.Second):
		p.Kill()
		return nil, fmt.Errorf("node %s did not start in 60s (see %s.log)", cfg.ID, cfg.Dir)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		p.Kill()
		return nil, fmt.Errorf("node %s did not start: %q (see %s.log): %s", cfg.ID, line, cfg.Dir, tail(cfg.Dir+".log"))
	}
	p.Client, p.Raft = f[1], f[2]
	return p, nil
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(filepath.Clean(path))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Kill sends SIGKILL (after SIGCONT, if it was stopped) and waits for the
// process to end.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop pauses the process (SIGSTOP); Cont resumes it.
func (p *Proc) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	return p.cmd.Process.Signal(syscall.SIGSTOP)
}

// Cont resumes a paused process (SIGCONT).
func (p *Proc) Cont() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = false
	return p.cmd.Process.Signal(syscall.SIGCONT)
}

// Alive reports whether the process runs and is not paused.
func (p *Proc) Alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.exited:
		return false
	default:
		return !p.stopped
	}
}

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }
