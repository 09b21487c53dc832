// SPDX-License-Identifier: MIT OR Apache-2.0

package ministore

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
)

// benchCodecs are the codecs besides the default that TestBigAppendRatios
// measures; codec_bench_test.go (package ministore_test) adds jsonv2codec,
// which this package cannot import.
var benchCodecs = map[string]Codec{}

// RegisterBenchCodec adds a codec to TestBigAppendRatios. It exists only
// in the test binary.
func RegisterBenchCodec(name string, c Codec) { benchCodecs[name] = c }

// TestBigAppendRatios measures the big-record appends of issue #15 against
// the raw group-commit loop (BenchmarkBaselineBig) in one process,
// interleaved: each round runs every variant once, in an order that
// rotates, and the table gives the median ns/op of each variant and the
// median, over the rounds, of raw/variant (1.0 is the raw loop's speed).
// Variants: the default codec (encoding/json), the registered codecs and
// pre-encoded records (jsonline.Trusted). It takes minutes, so it runs only
// with MINI_BIG_RATIOS set (to the number of rounds, 3 if not a number);
// -test.benchtime sets each run's length:
//
//	MINI_BIG_RATIOS=3 go test -run TestBigAppendRatios -v ./ministore
func TestBigAppendRatios(t *testing.T) {
	env := os.Getenv("MINI_BIG_RATIOS")
	if env == "" {
		t.Skip("MINI_BIG_RATIOS not set")
	}
	rounds, err := strconv.Atoi(env)
	if err != nil || rounds < 1 {
		rounds = 3
	}
	type variant struct {
		name string
		run  func(b *testing.B, size, writers int)
	}
	variants := []variant{
		{"raw", benchRawBig},
		{"json", func(b *testing.B, size, writers int) { benchAppendBig(b, size, writers, nil) }},
	}
	names := make([]string, 0, len(benchCodecs))
	for name := range benchCodecs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := benchCodecs[name]
		variants = append(variants, variant{name, func(b *testing.B, size, writers int) {
			benchAppendBig(b, size, writers, &Options{Codec: c})
		}})
	}
	variants = append(variants, variant{"pre-encoded", benchAppendPreencoded})
	for _, bs := range bigSizes {
		ns := make([][]float64, len(variants))
		for r := range rounds {
			for k := range variants {
				i := (k + r) % len(variants)
				res := testing.Benchmark(func(b *testing.B) { variants[i].run(b, bs.size, bs.writers) })
				if res.N == 0 {
					t.Fatalf("%s %s: failed", bs.name, variants[i].name)
				}
				ns[i] = append(ns[i], float64(res.T.Nanoseconds())/float64(res.N))
			}
		}
		for i, v := range variants {
			ratios := make([]float64, rounds)
			for r := range rounds {
				ratios[r] = ns[0][r] / ns[i][r]
			}
			t.Logf("%-10s | %-20s | %10.1f us | ratio %.2f | rounds %s", bs.name, v.name,
				median(ns[i])/1e3, median(ratios), fmtList(ns[i]))
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.SortFunc(s, cmp.Compare)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtList(ns []float64) string {
	out := ""
	for i, v := range ns {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%.1f", v/1e3)
	}
	return out
}
