// SPDX-License-Identifier: MIT OR Apache-2.0

package miniqueue

// capacity counts the bytes the queue holds for MaxBytes: the encoded size
// of every message from the oldest one some consumer has not resolved on.
// Sizes are kept in chunks of consecutive messages, about 1/256 of MaxBytes
// each, so the memory used does not grow with the number of messages; room
// comes back a whole chunk at a time.
type capacity struct {
	max      int64
	chunkMax int64
	used     int64 // bytes of the messages in chunks
	reserved int64 // bytes of pushes under way
	chunks   []capChunk
	head     int
	room     chan struct{} // closed (and replaced) when used goes down
}

// capChunk holds messages first, first+1, ... up to the next chunk's first.
type capChunk struct {
	first uint64
	bytes int64
}

func newCapacity(limit int64) capacity {
	return capacity{max: limit, chunkMax: max(limit/256, 1), room: make(chan struct{})}
}

// fits reports whether n more bytes fit.
func (c *capacity) fits(n int64) bool { return c.used+c.reserved+n <= c.max }

// add counts message seq of n bytes; sequence numbers come in order.
func (c *capacity) add(seq uint64, n int64) {
	c.used += n
	if k := len(c.chunks); k > c.head && c.chunks[k-1].bytes < c.chunkMax {
		c.chunks[k-1].bytes += n
		return
	}
	c.chunks = append(c.chunks, capChunk{first: seq, bytes: n})
}

// release stops counting the chunks that lie wholly below floor, given
// that the newest message is last.
func (c *capacity) release(floor, last uint64) {
	freed := false
	for c.head < len(c.chunks) {
		end := last // last message of the front chunk
		if c.head+1 < len(c.chunks) {
			end = c.chunks[c.head+1].first - 1
		}
		if end >= floor {
			break
		}
		c.used -= c.chunks[c.head].bytes
		c.chunks[c.head] = capChunk{}
		c.head++
		freed = true
	}
	if c.head > 64 && c.head*2 > len(c.chunks) {
		n := copy(c.chunks, c.chunks[c.head:])
		c.chunks, c.head = c.chunks[:n], 0
	}
	if freed {
		close(c.room)
		c.room = make(chan struct{})
	}
}
