// SPDX-License-Identifier: MIT OR Apache-2.0

package minisnap

// SetBufferSize changes the size of the buffers between the codec and the
// files of s, so that tests can make small states take several writes.
func SetBufferSize(s *Store, n int) { s.buf = n }
