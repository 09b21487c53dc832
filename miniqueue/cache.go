// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

// msgCache tracks which messages consumers may see, and keeps copies of the
// most recent ones so that consumers keeping up with producers need not
// read them back from disk.
//
// A message becomes visible (published) once its Push has made it durable
// and every message before it is visible too. Concurrent pushes return in
// any order, so a message can arrive early; it waits in early until the
// gap before it closes.
type msgCache struct {
	published uint64   // every message up to here is durable and visible
	base      uint64   // sequence number of items[head]
	items     [][]byte // encoded messages base.. published (items[head:])
	head      int
	bytes     int64 // size of items[head:]
	max       int64
	early     map[uint64][]byte
}

func newMsgCache(published uint64, max int64) msgCache {
	return msgCache{published: published, base: published + 1, max: max, early: map[uint64][]byte{}}
}

func (m *msgCache) live() int { return len(m.items) - m.head }

// insert records that message seq, with encoded form p, is durable. It
// calls visible for each message that became visible, in order, and returns
// how many did.
func (m *msgCache) insert(seq uint64, p []byte, visible func(seq uint64, p []byte)) int {
	if seq <= m.published {
		return 0
	}
	if seq != m.published+1 {
		m.early[seq] = p
		return 0
	}
	m.add(seq, p)
	visible(seq, p)
	n := 1
	for len(m.early) > 0 {
		q, ok := m.early[m.published+1]
		if !ok {
			break
		}
		delete(m.early, m.published+1)
		m.add(m.published+1, q)
		visible(m.published, q)
		n++
	}
	return n
}

func (m *msgCache) add(seq uint64, p []byte) {
	m.published = seq
	if m.live() == 0 {
		m.items, m.head, m.base = m.items[:0], 0, seq
	}
	m.items = append(m.items, p)
	m.bytes += int64(len(p))
	for m.bytes > m.max && m.live() > 0 {
		m.dropFront()
	}
	if m.live() == 0 {
		m.base = m.published + 1
	}
}

// get returns the encoded message seq if it is in memory.
func (m *msgCache) get(seq uint64) ([]byte, bool) {
	if seq < m.base || seq >= m.base+uint64(m.live()) {
		return nil, false
	}
	return m.items[m.head+int(seq-m.base)], true
}

// dropBelow forgets the messages before seq: no consumer needs them.
func (m *msgCache) dropBelow(seq uint64) {
	for m.live() > 0 && m.base < seq {
		m.dropFront()
	}
}

func (m *msgCache) dropFront() {
	m.bytes -= int64(len(m.items[m.head]))
	m.items[m.head] = nil
	m.head++
	m.base++
	m.items, m.head = compactFront(m.items, m.head)
}

// compactFront moves s[head:] to the front of s once the head dropped is
// at least 1024 items and half of s, and returns the new s and head.
func compactFront[T any](s []T, head int) ([]T, int) {
	if head < 1024 || head*2 < len(s) {
		return s, head
	}
	n := copy(s, s[head:])
	clear(s[n:])
	return s[:n], 0
}
