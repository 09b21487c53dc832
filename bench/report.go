// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A Role says what a row of a table is: mini's own figure, a peer library,
// or a raw baseline (the physical limit).
type Role int

const (
	Peer Role = iota
	Mini
	Limit
)

// A Table is one workload: rows are libraries, columns are configurations
// (writer counts, ...), and each cell holds the samples of several runs.
// The report shows the median of each cell with its spread.
type Table struct {
	ID    string // short name, used in file names and the headline
	Title string
	Note  string // a markdown paragraph shown under the table
	Unit  string // unit of every cell, e.g. "records/s"
	Lower bool   // lower is better (times, memory)
	Cols  []string
	Rows  []*Row
	// Mini names the row the ratios are computed for; Limit names the
	// physical-limit row ("" if the table has none).
	Mini  string
	Limit string
	// Headline puts the table's ratios in the report's summary.
	Headline bool
}

// A Row is one library's samples, per column.
type Row struct {
	Name    string
	Role    Role
	Samples map[string][]float64
}

// Row returns the row named name, adding it (with role) if it is missing.
func (t *Table) Row(name string, role Role) *Row {
	for _, r := range t.Rows {
		if r.Name == name {
			return r
		}
	}
	r := &Row{Name: name, Role: role, Samples: map[string][]float64{}}
	t.Rows = append(t.Rows, r)
	return r
}

// Add records one sample.
func (t *Table) Add(row string, role Role, col string, v float64) {
	r := t.Row(row, role)
	r.Samples[col] = append(r.Samples[col], v)
	if !slices.Contains(t.Cols, col) {
		t.Cols = append(t.Cols, col)
	}
}

// Median returns the median of row's samples in col.
func (t *Table) Median(row, col string) (float64, bool) {
	for _, r := range t.Rows {
		if r.Name == row {
			s := r.Samples[col]
			if len(s) == 0 {
				return 0, false
			}
			return Median(s), true
		}
	}
	return 0, false
}

// BestPeer returns the peer row with the best median in col.
func (t *Table) BestPeer(col string) (name string, v float64, ok bool) {
	for _, r := range t.Rows {
		if r.Role != Peer || len(r.Samples[col]) == 0 {
			continue
		}
		m := Median(r.Samples[col])
		if !ok || t.better(m, v) {
			name, v, ok = r.Name, m, true
		}
	}
	return name, v, ok
}

func (t *Table) better(a, b float64) bool {
	if t.Lower {
		return a < b
	}
	return a > b
}

// Ratio is mini's median divided by another median. NaN when either is
// missing or the divisor is zero.
type Ratio struct {
	Col      string
	Mini     float64
	Peer     string // the best peer's name
	PeerV    float64
	VsPeer   float64 // Mini / PeerV
	LimitV   float64
	VsLimit  float64 // Mini / LimitV
	HasPeer  bool
	HasLimit bool
}

// Ratios returns, for each column where the mini row has samples, mini /
// best peer and mini / physical limit.
func (t *Table) Ratios() []Ratio {
	var out []Ratio
	for _, c := range t.Cols {
		m, ok := t.Median(t.Mini, c)
		if !ok {
			continue
		}
		r := Ratio{Col: c, Mini: m, VsPeer: math.NaN(), VsLimit: math.NaN()}
		if name, v, ok := t.BestPeer(c); ok {
			r.Peer, r.PeerV, r.HasPeer = name, v, true
			r.VsPeer = div(m, v)
		}
		if t.Limit != "" {
			if v, ok := t.Median(t.Limit, c); ok {
				r.LimitV, r.HasLimit = v, true
				r.VsLimit = div(m, v)
			}
		}
		out = append(out, r)
	}
	return out
}

func div(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// Median returns the median of xs (the mean of the two middle values for
// an even count); NaN for none. It does not change xs.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Spread is half the range of xs relative to its median, as a fraction
// (0.05 for ±5%). Zero for fewer than two samples.
func Spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m := Median(xs)
	if m == 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / 2 / math.Abs(m)
}

// FormatValue prints v with three significant digits at most, and
// thousands separators: 123,456 / 1,235 / 123 / 12.3 / 1.23 / 0.123.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v < 0:
		return "-" + FormatValue(-v)
	case v >= 999.5:
		return group(int64(math.Round(v)))
	case v >= 99.95:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 0.9995:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v == 0:
		return "0"
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FormatRatio prints a ratio as 1.23×.
func FormatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	switch {
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	default:
		return strconv.FormatFloat(r, 'f', 2, 64) + "×"
	}
}

// Cell formats a cell: the median, and its spread when there are several
// samples ("12,345 ±3%").
func Cell(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	s := FormatValue(Median(xs))
	if len(xs) > 1 {
		s += fmt.Sprintf(" ±%.0f%%", 100*Spread(xs))
	}
	return s
}

// Markdown renders the table, then its ratio rows.
func (t *Table) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", t.Title)
	dir := "higher is better"
	if t.Lower {
		dir = "lower is better"
	}
	fmt.Fprintf(&b, "%s, median of runs ± half their range; %s.\n\n", t.Unit, dir)
	b.WriteString("| library |")
	for _, c := range t.Cols {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|")
	for range t.Cols {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		name := r.Name
		if r.Role == Mini {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s |", name)
		for _, c := range t.Cols {
			b.WriteString(" " + Cell(r.Samples[c]) + " |")
		}
		b.WriteString("\n")
	}
	ratios := t.Ratios()
	byCol := map[string]Ratio{}
	for _, r := range ratios {
		byCol[r.Col] = r
	}
	if len(ratios) > 0 {
		fmt.Fprintf(&b, "| *%s / best peer* |", t.Mini)
		for _, c := range t.Cols {
			r, ok := byCol[c]
			if !ok || !r.HasPeer {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %s (%s) |", FormatRatio(r.VsPeer), r.Peer)
		}
		b.WriteString("\n")
		if t.Limit != "" {
			fmt.Fprintf(&b, "| *%s / %s* |", t.Mini, t.Limit)
			for _, c := range t.Cols {
				b.WriteString(" " + FormatRatio(byCol[c].VsLimit) + " |")
			}
			b.WriteString("\n")
		}
	}
	if t.Note != "" {
		b.WriteString("\n" + t.Note + "\n")
	}
	return b.String()
}

// A HeadlineRow is one line of the report's summary.
type HeadlineRow struct {
	Workload string
	Unit     string
	Lower    bool
	Ratio
}

// Headlines collects the ratios of every table marked Headline.
func Headlines(tables []*Table) []HeadlineRow {
	var out []HeadlineRow
	for _, t := range tables {
		if !t.Headline {
			continue
		}
		for _, r := range t.Ratios() {
			out = append(out, HeadlineRow{Workload: t.ID + ", " + r.Col, Unit: t.Unit, Lower: t.Lower, Ratio: r})
		}
	}
	return out
}

// HeadlineMarkdown renders the summary table.
func HeadlineMarkdown(rows []HeadlineRow) string {
	var b strings.Builder
	b.WriteString("| workload | mini | best peer | mini / best peer | physical limit | mini / limit |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|\n")
	for _, h := range rows {
		unit := h.Unit
		if h.Lower {
			unit += ", lower is better"
		}
		peer, vsPeer := "–", "–"
		if h.HasPeer {
			peer = fmt.Sprintf("%s %s", h.Peer, FormatValue(h.PeerV))
			vsPeer = FormatRatio(h.VsPeer)
		}
		limit, vsLimit := "–", "–"
		if h.HasLimit {
			limit = FormatValue(h.LimitV)
			vsLimit = FormatRatio(h.VsLimit)
		}
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s | %s |\n",
			h.Workload, unit, FormatValue(h.Mini), peer, vsPeer, limit, vsLimit)
	}
	return b.String()
}

// Rotate returns xs rotated left by k: the order in which the libraries
// of round k run, so that none always runs first or right after another.
func Rotate[T any](xs []T, k int) []T {
	n := len(xs)
	if n == 0 {
		return nil
	}
	k = ((k % n) + n) % n
	return append(slices.Clone(xs[k:]), xs[:k]...)
}
