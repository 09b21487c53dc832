// SPDX-License-Identifier: MIT OR Apache-2.0

package faults

import (
	"sync"
	"time"
)

// A Mesh is the network of a cluster: one Proxy per directed link, so
// node A reaches node B only through the proxy (A, B). A node's Dial maps
// each peer's raft address to the proxy of its link to that peer (see
// Links).
type Mesh struct {
	mu      sync.Mutex
	addrs   map[string]string    // node ID -> its raft address
	proxies map[[2]string]*Proxy // (from, to) -> proxy
}

// NewMesh returns an empty mesh.
func NewMesh() *Mesh {
	return &Mesh{addrs: map[string]string{}, proxies: map[[2]string]*Proxy{}}
}

// Add makes (or updates) node id at raft address addr, with links to and
// from every node already in the mesh.
func (m *Mesh) Add(id, addr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addrs[id] = addr
	for other := range m.addrs {
		if other == id {
			continue
		}
		for _, link := range [][2]string{{id, other}, {other, id}} {
			if p := m.proxies[link]; p != nil {
				p.SetTarget(m.addrs[link[1]])
				continue
			}
			p, err := NewProxy(m.addrs[link[1]])
			if err != nil {
				return err
			}
			m.proxies[link] = p
		}
	}
	return nil
}

// Links returns, for node from, each peer's raft address mapped to the
// address of the proxy that carries from's connections to it.
func (m *Mesh) Links(from string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for link, p := range m.proxies {
		if link[0] == from {
			out[m.addrs[link[1]]] = p.Addr()
		}
	}
	return out
}

// each calls fn for every link that matches.
func (m *Mesh) each(match func(from, to string) bool, fn func(*Proxy)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for link, p := range m.proxies {
		if match(link[0], link[1]) {
			fn(p)
		}
	}
}

// Isolate blackholes (or, with drop false, restores) every link to and
// from node id.
func (m *Mesh) Isolate(id string, drop bool) {
	m.each(func(from, to string) bool { return from == id || to == id }, func(p *Proxy) { p.SetDrop(drop) })
}

// SetDelay sets the latency of every link.
func (m *Mesh) SetDelay(d time.Duration) {
	m.each(func(string, string) bool { return true }, func(p *Proxy) { p.SetDelay(d) })
}

// Cut closes every open connection on every link.
func (m *Mesh) Cut() {
	m.each(func(string, string) bool { return true }, func(p *Proxy) { p.Cut() })
}

// Heal makes every link pass without delay.
func (m *Mesh) Heal() {
	m.each(func(string, string) bool { return true }, func(p *Proxy) { p.SetDrop(false); p.SetDelay(0) })
}

// Close closes every proxy.
func (m *Mesh) Close() {
	m.each(func(string, string) bool { return true }, func(p *Proxy) { p.Close() })
}
