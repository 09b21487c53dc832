// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"encoding/json"
	"testing"

	"github.com/mini-go/mini/internal/jsonline"
)

// BenchmarkEncodeBig is the CPU cost per MB of what an Append of a big
// record does before the journal's lock: the encoding by each codec (the
// default, encoding/json into a pooled buffer without HTML escaping, as
// Append does it; json.Marshal, which escapes <, > and &, as Append did
// before; the registered codecs, such as jsonv2), and the checks and
// checksum that follow it. The record is the one
// BenchmarkAppendBig appends.
func BenchmarkEncodeBig(b *testing.B) {
	for _, bs := range bigSizes {
		rec := newSizedRecord(bs.size)
		p, err := json.Marshal(rec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bs.name+"/json", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				buf := getEncBuf()
				if _, err := encode(nil, rec, buf, 0); err != nil {
					b.Fatal(err)
				}
				putEncBuf(buf)
			}
		})
		b.Run(bs.name+"/json.Marshal", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if _, err := json.Marshal(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
		for name, c := range benchCodecs {
			b.Run(bs.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(p)))
				for b.Loop() {
					if _, err := encode(c, rec, nil, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(bs.name+"/replacedutf8", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if jsonline.ReplacedUTF8(p) {
					b.Fatal("replaced")
				}
			}
		})
		b.Run(bs.name+"/crc", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				checksum(p)
				xPow8n(uint64(len(p)))
			}
		})
	}
}
