// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import "hash/crc32"

// crcConcatShift returns the CRC-32C (Castagnoli) of a followed by b, given
// crcA, the CRC-32C of a, crcB, the CRC-32C of b, and shift =
// xPow8n(len(b)): the checksum of a record line whose payload was
// checksummed by the goroutine that encoded it (which computes shift too),
// before its sequence number was known, costs the checksum of the short
// line prefix and one multiplication by the group-commit leader, not a
// second pass over the payload.
//
// The CRC is a remainder of polynomial division over GF(2): appending lenB
// bytes to a multiplies a's remainder by x^(8·lenB) (mod the polynomial),
// and the pre- and post-inversion of the standard CRC cancel out between
// the two halves, so crc(a‖b) = crcA·x^(8·lenB) ⊕ crcB.
func crcConcatShift(crcA, crcB, shift uint32) uint32 {
	return gfMulMod(crcA, shift) ^ crcB
}

// The polynomials below are in the CRC's reflected bit order: bit 31 is the
// coefficient of x^0, bit 0 that of x^31.
const (
	castagnoliReflected = 0x82f63b78 // crc32.Castagnoli
	gfOne               = 1 << 31    // x^0
)

// gfMulMod returns a·b modulo the Castagnoli polynomial.
func gfMulMod(a, b uint32) uint32 {
	var p uint32
	for bit := uint32(gfOne); a != 0 && bit != 0; bit >>= 1 {
		if a&bit != 0 {
			p ^= b
			a &^= bit
		}
		// b = b·x mod P: shifting right raises every power by one; the
		// coefficient that leaves x^31 comes back as P's lower terms.
		if b&1 != 0 {
			b = b>>1 ^ castagnoliReflected
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow8nTable[k] is x^(8·2^k) mod P.
var xPow8nTable = func() (t [64]uint32) {
	t[0] = gfOne >> 8 // x^8
	for k := 1; k < len(t); k++ {
		t[k] = gfMulMod(t[k-1], t[k-1])
	}
	return t
}()

// xPow8n returns x^(8·n) mod P, by squaring: the product of the table's
// entries for the bits set in n.
func xPow8n(n uint64) uint32 {
	p := uint32(gfOne)
	for k := 0; n != 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			p = gfMulMod(p, xPow8nTable[k])
		}
	}
	return p
}

// checksum is the CRC-32C of b.
func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
