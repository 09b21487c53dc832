// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000, 10, 10}, 10},
		{[]float64{-1, -3, -2}, -2},
	} {
		in := slices.Clone(tc.in)
		if got := Median(in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("Median(%v) changed its argument to %v", tc.in, in)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 0},
		{[]float64{90, 100, 110}, 0.1},
		{[]float64{100, 100}, 0},
		{[]float64{0, 0, 0}, 0},
	} {
		if got := Spread(tc.in); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Spread(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{0.0735, "0.0735"},
		{1.234, "1.23"},
		{12.34, "12.3"},
		{123.4, "123"},
		{999.6, "1,000"},
		{99.97, "100"},
		{9.999, "10.0"},
		{1234.5, "1,235"},
		{123456, "123,456"},
		{1234567, "1,234,567"},
		{-1500, "-1,500"},
		{math.NaN(), "–"},
	} {
		if got := FormatValue(tc.in); got != tc.want {
			t.Errorf("FormatValue(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatRatio(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{1, "1.00×"},
		{0.345, "0.34×"}, // 'f' rounds half to even on the binary value
		{2.5, "2.50×"},
		{12.34, "12.3×"},
		{math.NaN(), "–"},
		{math.Inf(1), "–"},
	} {
		if got := FormatRatio(tc.in); got != tc.want {
			t.Errorf("FormatRatio(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCell(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want string
	}{
		{nil, "–"},
		{[]float64{1234}, "1,234"},
		{[]float64{900, 1000, 1100}, "1,000 ±10%"},
	} {
		if got := Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// table builds a table from rows of (name, role, col, samples...).
func table(lower bool, limit string, rows ...struct {
	name string
	role Role
	col  string
	vs   []float64
}) *Table {
	t := &Table{ID: "T", Title: "T", Unit: "ops/s", Lower: lower, Mini: "mini", Limit: limit, Headline: true}
	for _, r := range rows {
		for _, v := range r.vs {
			t.Add(r.name, r.role, r.col, v)
		}
	}
	return t
}

type rowSpec = struct {
	name string
	role Role
	col  string
	vs   []float64
}

func TestRatios(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table *Table
		want  []Ratio // only Col, Peer, VsPeer, VsLimit, HasPeer, HasLimit are compared
	}{
		{
			name: "higher is better, best peer and limit",
			table: table(false, "raw",
				rowSpec{"mini", Mini, "1", []float64{100, 90, 110}},
				rowSpec{"a", Peer, "1", []float64{50, 50, 50}},
				rowSpec{"b", Peer, "1", []float64{80, 79, 81}},
				rowSpec{"raw", Limit, "1", []float64{200}},
				rowSpec{"mini", Mini, "8", []float64{400}},
				rowSpec{"a", Peer, "8", []float64{800}},
				rowSpec{"b", Peer, "8", []float64{100}},
				rowSpec{"raw", Limit, "8", []float64{1000}},
			),
			want: []Ratio{
				{Col: "1", Peer: "b", VsPeer: 100.0 / 80, VsLimit: 0.5, HasPeer: true, HasLimit: true},
				{Col: "8", Peer: "a", VsPeer: 0.5, VsLimit: 0.4, HasPeer: true, HasLimit: true},
			},
		},
		{
			name: "lower is better picks the smallest peer",
			table: table(true, "",
				rowSpec{"mini", Mini, "ms", []float64{2}},
				rowSpec{"a", Peer, "ms", []float64{4}},
				rowSpec{"b", Peer, "ms", []float64{8}},
			),
			want: []Ratio{{Col: "ms", Peer: "a", VsPeer: 0.5, VsLimit: math.NaN(), HasPeer: true}},
		},
		{
			name: "a second mini row and the limit are not peers",
			table: table(false, "raw",
				rowSpec{"mini", Mini, "1", []float64{10}},
				rowSpec{"mini typed", Mini, "1", []float64{1000}},
				rowSpec{"raw", Limit, "1", []float64{20}},
				rowSpec{"p", Peer, "1", []float64{5}},
			),
			want: []Ratio{{Col: "1", Peer: "p", VsPeer: 2, VsLimit: 0.5, HasPeer: true, HasLimit: true}},
		},
		{
			name: "no peer, zero limit",
			table: table(false, "raw",
				rowSpec{"mini", Mini, "1", []float64{10}},
				rowSpec{"raw", Limit, "1", []float64{0}},
			),
			want: []Ratio{{Col: "1", VsPeer: math.NaN(), VsLimit: math.NaN(), HasLimit: true}},
		},
		{
			name: "column without mini is left out",
			table: table(false, "",
				rowSpec{"p", Peer, "1", []float64{10}},
				rowSpec{"mini", Mini, "8", []float64{10}},
				rowSpec{"p", Peer, "8", []float64{20}},
			),
			want: []Ratio{{Col: "8", Peer: "p", VsPeer: 0.5, VsLimit: math.NaN(), HasPeer: true}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.table.Ratios()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d ratios, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Col != w.Col || g.Peer != w.Peer || g.HasPeer != w.HasPeer || g.HasLimit != w.HasLimit ||
					!sameFloat(g.VsPeer, w.VsPeer) || !sameFloat(g.VsLimit, w.VsLimit) {
					t.Errorf("ratio %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func TestMarkdown(t *testing.T) {
	tb := table(false, "raw",
		rowSpec{"mini", Mini, "1 writer", []float64{100, 90, 110}},
		rowSpec{"peer", Peer, "1 writer", []float64{50}},
		rowSpec{"raw", Limit, "1 writer", []float64{200}},
	)
	tb.Note = "A note."
	got := tb.Markdown()
	for _, want := range []string{
		"### T\n",
		"ops/s, median of runs ± half their range; higher is better.",
		"| library | 1 writer |\n|---|---:|\n",
		"| **mini** | 100 ±10% |\n",
		"| peer | 50.0 |\n",
		"| raw | 200 |\n",
		"| *mini / best peer* | 2.00× (peer) |\n",
		"| *mini / raw* | 0.50× |\n",
		"\nA note.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, got)
		}
	}
}

func TestHeadlines(t *testing.T) {
	a := table(false, "raw",
		rowSpec{"mini", Mini, "1", []float64{10}},
		rowSpec{"p", Peer, "1", []float64{5}},
		rowSpec{"raw", Limit, "1", []float64{20}},
	)
	b := table(true, "", rowSpec{"mini", Mini, "x", []float64{3}}, rowSpec{"p", Peer, "x", []float64{6}})
	b.ID = "B"
	c := table(false, "", rowSpec{"mini", Mini, "y", []float64{1}})
	c.Headline = false
	rows := Headlines([]*Table{a, b, c})
	if len(rows) != 2 {
		t.Fatalf("got %d headline rows, want 2: %+v", len(rows), rows)
	}
	md := HeadlineMarkdown(rows)
	for _, want := range []string{
		"| T, 1 (ops/s) | 10.0 | p 5.00 | 2.00× | 20.0 | 0.50× |",
		"| B, x (ops/s, lower is better) | 3.00 | p 6.00 | 0.50× | – | – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("headline lacks %q:\n%s", want, md)
		}
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	for _, tc := range []struct {
		k    int
		want []string
	}{
		{0, []string{"a", "b", "c"}},
		{1, []string{"b", "c", "a"}},
		{2, []string{"c", "a", "b"}},
		{3, []string{"a", "b", "c"}},
		{-1, []string{"c", "a", "b"}},
	} {
		if got := Rotate(xs, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("Rotate(%v, %d) = %v, want %v", xs, tc.k, got, tc.want)
		}
	}
	if !slices.Equal(xs, []string{"a", "b", "c"}) {
		t.Errorf("Rotate changed its argument: %v", xs)
	}
	if Rotate([]int(nil), 3) != nil {
		t.Error("Rotate(nil) is not nil")
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkStoreLog/Mini-2         	    9626	    118764 ns/op	     512 B/op
BenchmarkStoreLog/Mini-2         	    9000	    120000.5 ns/op
BenchmarkStoreLog/WAL-2          	   10000	    100000 ns/op
BenchmarkGet/BoltDB              	 1000000	      1247 ns/op
--- SKIP: BenchmarkDeleteRange/WAL
PASS
`
	got := parseBench(out)
	want := map[string]map[string][]float64{
		"StoreLog": {"Mini": {118764, 120000.5}, "WAL": {100000}},
		"Get":      {"BoltDB": {1247}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for b, subs := range want {
		for s, vs := range subs {
			if !slices.Equal(got[b][s], vs) {
				t.Errorf("%s/%s = %v, want %v", b, s, got[b][s], vs)
			}
		}
	}
}

func TestWritersOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"1 writer", 1},
		{"64 writers", 64},
		{"peak RSS", 0},
		{"", 0},
	} {
		if got := writersOf(tc.in); got != tc.want {
			t.Errorf("writersOf(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestRecMakerSizes(t *testing.T) {
	for _, size := range []int{100, 4096} {
		mk := recMaker(size)
		for _, i := range []int64{1, 1_000_000, 9_999_999} {
			n := len(encodeRec(mk(i)))
			if n < size-7 || n > size {
				t.Errorf("record %d of size %d encodes to %d bytes", i, size, n)
			}
		}
	}
}

func TestExpectedBalance(t *testing.T) {
	// Brute force through the Deposit mutation itself.
	var b Bank
	for i := int64(1); i <= 5000; i++ {
		deposit(i).Apply(&b)
	}
	if got, want := b.Accounts[accountNames[0]].Balance, expectedBalance(5000); got != want {
		t.Errorf("account 0 holds %d after 5000 deposits, expectedBalance says %d", got, want)
	}
}

func TestShortNumber(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{1, "1"},
		{100, "100"},
		{1000, "1k"},
		{100000, "100k"},
		{2e6, "2M"},
	} {
		if got := shortNumber(tc.in); got != tc.want {
			t.Errorf("shortNumber(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLegendOrder(t *testing.T) {
	rows := []*Row{{Name: "p1", Role: Peer}, {Name: "raw", Role: Limit}, {Name: "mini", Role: Mini}, {Name: "p2", Role: Peer}}
	var got []string
	for _, r := range legendOrder(rows) {
		got = append(got, r.Name)
	}
	if want := []string{"mini", "raw", "p1", "p2"}; !slices.Equal(got, want) {
		t.Errorf("legendOrder = %v, want %v", got, want)
	}
}

func TestRequiredVersions(t *testing.T) {
	gomod := `module github.com/mini-go/mini/bench

require github.com/tidwall/wal v1.2.1

require (
	github.com/cockroachdb/pebble/v2 v2.1.7
	github.com/mini-go/mini v0.0.0
	go.etcd.io/bbolt v1.5.0
	github.com/hashicorp/go-hclog v1.6.3 // indirect
)

replace github.com/mini-go/mini => ../
`
	got := requiredVersions(gomod)
	want := []string{"github.com/tidwall/wal v1.2.1", "github.com/cockroachdb/pebble/v2 v2.1.7", "go.etcd.io/bbolt v1.5.0"}
	if !slices.Equal(got, want) {
		t.Errorf("requiredVersions = %v, want %v", got, want)
	}
}

func TestRenderFromSavedRecord(t *testing.T) {
	tb := table(false, "raw",
		rowSpec{"mini", Mini, "1 writer", []float64{100, 90, 110}},
		rowSpec{"peer", Peer, "1 writer", []float64{50, 50}},
		rowSpec{"raw", Limit, "1 writer", []float64{200}},
	)
	rec := &runRecord{
		Mode: "full", Runs: 3, SlowRuns: 3, Warm: 250 * time.Millisecond, Dur: 1500 * time.Millisecond,
		Start: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Elapsed: 90 * time.Second,
		Machine:  machine{CPUs: 2, CPU: "Some CPU", MemGiB: 24, Kernel: "Linux 6", Go: "go1.26", FSType: "ext4", Device: "/dev/vda", Disk: "virtual disk", Mount: "/"},
		Versions: []string{"go.etcd.io/bbolt v1.5.0"},
		Tables:   []*Table{tb},
	}
	js, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var back runRecord
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	got := renderReport(&back, []string{"wal-append.svg", "wal-append.png"})
	for _, want := range []string{
		"Measured on 2026-01-02 03:04 UTC with `go run -C bench .` from the repository's root (a full run, 1m30s of wall time",
		"2 vCPU (Some CPU), 24 GiB RAM, Linux 6; data files on ext4 (`/dev/vda`, virtual disk) mounted at /; go1.26.",
		"spread ±5% around their median (the widest ±10%)", // spreads 10% and 0%
		"| T, 1 writer (ops/s) | 100 | peer 50.0 | 2.00× | 200 | 0.50× |",
		"](wal-append.svg)",
		"| **mini** | 100 ±10% |",
		"- go.etcd.io/bbolt v1.5.0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "wal-append.png)") {
		t.Error("report links the PNG; it should show the SVG")
	}
}

func TestPeerRatios(t *testing.T) {
	tb := &Table{Mini: "m"}
	tb.Add("m", Mini, "1 client", 300)
	tb.Add("m", Mini, "64 clients", 9000)
	tb.Add("a", Peer, "1 client", 200)
	tb.Add("a", Peer, "64 clients", 3000)
	tb.Add("b", Peer, "64 clients", 4500)
	tb.Add("m2", Mini, "1 client", 100)
	got := peerRatios(tb)
	want := " m / a: 1 client 1.50×, 64 clients 3.00×. m / b: 64 clients 2.00×."
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
