// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/binary"
	"encoding/json"
	"strings"
)

// Rec is the record every WAL and replay workload writes: encoded with
// encoding/json it is size bytes long (for a seven-digit N).
type Rec struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value"`
	N     int    `json:"n"`
}

const filler = "the quick brown fox jumps over the lazy dog. "

// recMaker returns a function giving record i with a JSON encoding of
// about size bytes.
func recMaker(size int) func(i int64) Rec {
	base, _ := json.Marshal(Rec{Op: "put", Key: "user/000000000042", N: 1_000_000})
	pad := max(size-len(base), 0)
	value := strings.Repeat(filler, pad/len(filler)+1)[:pad]
	return func(i int64) Rec {
		return Rec{Op: "put", Key: "user/000000000042", Value: value, N: int(i % 10_000_000)}
	}
}

// encodeRec is what a user of a byte-oriented library does before each
// write; ministore does the same inside Append.
func encodeRec(r Rec) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

// key8 is the big-endian key of record i in the key-value stores, so that
// keys sort in the order they were written.
func key8(i uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], i)
	return k[:]
}
