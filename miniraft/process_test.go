// SPDX-License-Identifier: MIT OR Apache-2.0

package miniraft

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-go/mini/internal/testcert"
)

// TestMain lets TestKillLeaderProcess run this test binary as a cluster
// node: with MINIRAFT_NODE_ID set, it runs a node until it is killed.
func TestMain(m *testing.M) {
	if id := os.Getenv("MINIRAFT_NODE_ID"); id != "" {
		if err := runNodeProcess(id, os.Getenv("MINIRAFT_NODE_DIR"), os.Getenv("MINIRAFT_NODE_BOOTSTRAP") != ""); err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// nodeStatus is what a node process reports on GET /status.
type nodeStatus struct {
	Leader bool   `json:"leader"`
	Seq    uint64 `json:"seq"`
	IDs    []int  `json:"ids"`
}

// runNodeProcess runs a node with a small HTTP interface for the test:
// POST /apply?id=N, POST /add?id=&addr=, GET /status. It prints
// "ready <http address> <raft address>" when it serves.
func runNodeProcess(id, dir string, bootstrap bool) error {
	o := nodeOptions(id)
	o.Bootstrap = bootstrap
	tlsConf, err := testcert.LoadConfig(os.Getenv("MINIRAFT_NODE_CERTS"), id)
	if err != nil {
		return err
	}
	o.TLS = tlsConf
	m, err := Open[ledger, add](dir, o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("id"))
		seq, err := m.Apply(add{ID: n})
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		fmt.Fprint(w, seq)
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		if err := m.AddVoter(r.FormValue("id"), r.FormValue("addr")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st := nodeStatus{Leader: m.IsLeader()}
		m.View(func(s *ledger) { st.IDs = slices.Clone(s.IDs) })
		st.Seq = m.Sequence()
		json.NewEncoder(w).Encode(st)
	})
	fmt.Printf("ready %s %s\n", ln.Addr(), m.Addr())
	return http.Serve(ln, mux)
}

// nodeProcess is a node running as a child process.
type nodeProcess struct {
	id, dir  string
	cmd      *exec.Cmd
	http     string
	raftAddr string
	exited   chan struct{}
}

func startNodeProcess(t *testing.T, id, dir, certs string, bootstrap bool) *nodeProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MINIRAFT_NODE_ID="+id, "MINIRAFT_NODE_DIR="+dir, "MINIRAFT_NODE_CERTS="+certs)
	if bootstrap {
		cmd.Env = append(cmd.Env, "MINIRAFT_NODE_BOOTSTRAP=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodeProcess{id: id, dir: dir, cmd: cmd, exited: make(chan struct{})}
	t.Cleanup(func() { p.kill() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("node %s did not start: %v", id, err)
	}
	go func() {
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(p.exited)
	}()
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ready" {
		t.Fatalf("node %s: %q", id, line)
	}
	p.http, p.raftAddr = f[1], f[2]
	return p
}

// kill sends SIGKILL and waits for the process to end.
func (p *nodeProcess) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func (p *nodeProcess) status() (nodeStatus, error) {
	var st nodeStatus
	resp, err := httpClient.Get("http://" + p.http + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

func (p *nodeProcess) post(path string, form url.Values) (string, error) {
	resp, err := httpClient.PostForm("http://"+p.http+path, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

func processLeader(t *testing.T, nodes map[string]*nodeProcess) *nodeProcess {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range nodes {
			if st, err := p.status(); err == nil && st.Leader {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader among the node processes")
	return nil
}

// applyThrough applies n mutations from first on, on the current leader,
// with a few workers, and adds the acknowledged ones to acked. A mutation
// whose call fails (the leader died under it) is simply not acknowledged.
func applyThrough(t *testing.T, nodes map[string]*nodeProcess, first, n int, acked map[int]uint64, mu *sync.Mutex) {
	t.Helper()
	applyTo(t, processLeader(t, nodes), first, n, acked, mu)
}

// applyTo is applyThrough on a given node; it may run on any goroutine.
func applyTo(t *testing.T, leader *nodeProcess, first, n int, acked map[int]uint64, mu *sync.Mutex) {
	var wg sync.WaitGroup
	ids := make(chan int, n)
	for i := range n {
		ids <- first + i
	}
	close(ids)
	for range 4 {
		wg.Go(func() {
			for id := range ids {
				body, err := leader.post("/apply", url.Values{"id": {strconv.Itoa(id)}})
				if err != nil {
					continue
				}
				seq, err := strconv.ParseUint(body, 10, 64)
				if err != nil {
					t.Errorf("apply %d: %q", id, body)
					continue
				}
				mu.Lock()
				acked[id] = seq
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestKillLeaderProcess runs three nodes as processes, kills the leader
// with SIGKILL while mutations stream in, keeps applying on the new
// leader, restarts the killed node from its folder, and checks that every
// node ends with the same state holding every acknowledged mutation.
func TestKillLeaderProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	base := t.TempDir()
	certs := t.TempDir()
	if err := testCA.WriteFiles(certs, "n1", "n2", "n3"); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*nodeProcess{}
	for i, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startNodeProcess(t, id, filepath.Join(base, id), certs, i == 0)
		if i == 0 {
			processLeader(t, nodes)
			continue
		}
		if _, err := nodes["n1"].post("/add", url.Values{"id": {id}, "addr": {nodes[id].raftAddr}}); err != nil {
			t.Fatalf("add %s: %v", id, err)
		}
	}
	var mu sync.Mutex
	acked := map[int]uint64{}
	applyThrough(t, nodes, 1, 200, acked, &mu)

	// Kill the leader while a stream of mutations is in flight.
	leader := processLeader(t, nodes)
	done := make(chan struct{})
	go func() {
		defer close(done)
		applyTo(t, leader, 1001, 200, acked, &mu)
	}()
	time.Sleep(30 * time.Millisecond)
	leader.kill()
	<-done
	delete(nodes, leader.id)
	if next := processLeader(t, nodes); next.id == leader.id {
		t.Fatal("killed node still leads")
	}
	applyThrough(t, nodes, 2001, 200, acked, &mu)

	// Restart it from its folder; it listens on its old address.
	restarted := startNodeProcess(t, leader.id, leader.dir, certs, false)
	if restarted.raftAddr != leader.raftAddr {
		t.Fatalf("restarted on %s, was %s", restarted.raftAddr, leader.raftAddr)
	}
	nodes[leader.id] = restarted
	applyThrough(t, nodes, 3001, 100, acked, &mu)

	var top uint64
	for _, seq := range acked {
		top = max(top, seq)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		states := map[string]nodeStatus{}
		for id, p := range nodes {
			if st, err := p.status(); err == nil && st.Seq >= top {
				states[id] = st
			}
		}
		if len(states) == 3 && states["n1"].Seq == states["n2"].Seq && states["n2"].Seq == states["n3"].Seq {
			ref := states["n1"].IDs
			for id, st := range states {
				if !slices.Equal(st.IDs, ref) {
					t.Fatalf("%s holds %d mutations, n1 %d: the states differ", id, len(st.IDs), len(ref))
				}
			}
			have := map[int]int{}
			for _, id := range ref {
				have[id]++
			}
			for id := range acked {
				if have[id] != 1 {
					t.Fatalf("acknowledged mutation %d is in the state %d times", id, have[id])
				}
			}
			t.Logf("%d mutations acknowledged, %d in every state; leader %s was killed", len(acked), len(ref), leader.id)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes did not converge on sequence %d: %+v", top, len(states))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
