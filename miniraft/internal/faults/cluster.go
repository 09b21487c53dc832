// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mini-go/mini/internal/testcert"
)

// A Cluster is a set of node processes on one machine, every link between
// them through the Mesh's proxies.
type Cluster struct {
	Mesh *Mesh
	base string
	seed uint64
	bug  string       // NodeConfig.Bug of every node
	ca   *testcert.CA // the cluster's CA; nil: plain TCP

	mu    sync.Mutex
	procs map[string]*Proc // the latest process of each node, dead or alive
}

// NewCluster returns an empty cluster whose nodes keep their directories in base.
func NewCluster(base string, seed uint64) *Cluster {
	return &Cluster{Mesh: NewMesh(), base: base, seed: seed, procs: map[string]*Proc{}}
}

// Proc returns the latest process of node id, or nil.
func (c *Cluster) Proc(id string) *Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[id]
}

// IDs returns the IDs of every node ever started, sorted.
func (c *Cluster) IDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id := range c.procs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ClientAddr returns the client address of node id if it runs, else "".
func (c *Cluster) ClientAddr(id string) string {
	p := c.Proc(id)
	if p == nil {
		return ""
	}
	select {
	case <-p.Exited():
		return ""
	default:
		return p.Client
	}
}

// Start starts node id from its directory (creating it on first start), then
// tells every running node the links to it.
func (c *Cluster) Start(id string, bootstrap, memDisk bool) (*Proc, error) {
	if p := c.Proc(id); p != nil {
		select {
		case <-p.Exited():
		default:
			return nil, fmt.Errorf("node %s runs already", id)
		}
	}
	c.seed++
	cfg := NodeConfig{ID: id, Dir: filepath.Join(c.base, id), Bootstrap: bootstrap, Links: c.Mesh.Links(id), MemDisk: memDisk, Seed: c.seed, Bug: c.bug}
	if c.ca != nil {
		cfg.CA = c.ca.PEM()
		var err error
		if cfg.Cert, cfg.Key, err = c.ca.NodePEM(id); err != nil {
			return nil, err
		}
	}
	p, err := startProc(cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs[id] = p
	c.mu.Unlock()
	if err := c.Mesh.Add(id, p.Raft); err != nil {
		return nil, err
	}
	return p, c.pushLinks()
}

// pushLinks sends every running node its links.
func (c *Cluster) pushLinks() error {
	for _, id := range c.IDs() {
		p := c.Proc(id)
		if !p.Alive() {
			continue
		}
		if _, err := c.Admin(id, Request{Op: "links", Links: c.Mesh.Links(id)}, 10*time.Second); err != nil {
			return fmt.Errorf("links to %s: %w", id, err)
		}
	}
	return nil
}

// Kill SIGKILLs node id (a no-op if it is not running).
func (c *Cluster) Kill(id string) {
	if p := c.Proc(id); p != nil {
		p.Kill()
	}
}

// Admin sends one request to node id on a connection of its own.
func (c *Cluster) Admin(id string, req Request, timeout time.Duration) (Response, error) {
	cl := NewClient(func() string { return c.ClientAddr(id) })
	defer cl.Close()
	resp, _, err := cl.Do(req, timeout)
	if err == nil && !resp.OK {
		err = errors.New(resp.Err)
	}
	return resp, err
}

// Leader waits up to timeout for a running node that says it leads.
func (c *Cluster) Leader(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		for _, id := range c.IDs() {
			if !c.Proc(id).Alive() {
				continue
			}
			if st, err := c.Admin(id, Request{Op: "status"}, 2*time.Second); err == nil && st.Leader {
				return id, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no leader after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Retry sends req to the leader (or any running node, which forwards it)
// until it succeeds, up to timeout.
func (c *Cluster) Retry(req Request, timeout time.Duration) (Response, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		id, err := c.Leader(time.Until(deadline))
		if err != nil {
			return Response{}, fmt.Errorf("%s: %w (last error: %v)", req.Op, err, last)
		}
		resp, err := c.Admin(id, req, 15*time.Second)
		if err == nil {
			return resp, nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return Response{}, fmt.Errorf("%s: not done in %v: %v", req.Op, timeout, last)
}

// Members returns the voters as the leader knows them.
func (c *Cluster) Members(timeout time.Duration) ([]string, error) {
	resp, err := c.Retry(Request{Op: "status"}, timeout)
	if err != nil {
		return nil, err
	}
	return resp.Servers, nil
}

// Close kills every node and closes the proxies.
func (c *Cluster) Close() {
	for _, id := range c.IDs() {
		c.Kill(id)
	}
	c.Mesh.Close()
}
