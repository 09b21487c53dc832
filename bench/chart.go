// SPDX-License-Identifier: MIT OR Apache-2.0

package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chartStyle gives every library the same color and dashes in every panel.
var chartStyle = map[string]struct {
	c     color.RGBA
	width vg.Length
	dash  []vg.Length
}{
	rowMinistore:   {color.RGBA{0x1f, 0x5f, 0xd0, 0xff}, 3, nil},
	rowRawPrealloc: {color.RGBA{0x20, 0x20, 0x20, 0xff}, 1.5, []vg.Length{6, 3}},
	rowRawAppend:   {color.RGBA{0x90, 0x90, 0x90, 0xff}, 1.5, []vg.Length{2, 2}},
	rowTidwall:     {color.RGBA{0xe0, 0x7b, 0x00, 0xff}, 1.5, nil},
	rowRaftWAL:     {color.RGBA{0x2a, 0xa0, 0x3c, 0xff}, 1.5, nil},
	rowBoltUpdate:  {color.RGBA{0xc8, 0x2a, 0x2a, 0xff}, 1.5, nil},
	rowBoltBatch:   {color.RGBA{0xc8, 0x2a, 0x2a, 0xff}, 1.5, []vg.Length{4, 2}},
	rowPebble:      {color.RGBA{0x8a, 0x3f, 0xb8, 0xff}, 1.5, nil},
}

// writeCharts draws the WAL append tables (throughput against writer
// count, one line per library, one panel per record size) as SVG and PNG
// in out, and returns the file names.
func writeCharts(out string, tables []*Table) ([]string, error) {
	var panels []*Table
	for _, t := range tables {
		if strings.HasPrefix(t.ID, "WAL append") {
			panels = append(panels, t)
		}
	}
	if len(panels) == 0 {
		return nil, nil
	}
	var plots []*plot.Plot
	var names []string
	for _, t := range panels {
		p, rows, err := chartPanel(t)
		if err != nil {
			return nil, err
		}
		plots = append(plots, p)
		if len(rows) > len(names) {
			names = rows
		}
	}
	const w, h = 30 * vg.Centimeter, 12 * vg.Centimeter
	var files []string
	for _, format := range []string{"svg", "png"} {
		var c vg.CanvasWriterTo
		if format == "svg" {
			c = vgsvg.New(w, h)
		} else {
			c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))}
		}
		dc := draw.New(c)
		// A white page, so that the legend stays readable on a dark background.
		dc.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: h}, {X: 0, Y: h}})
		legendW := 5.5 * vg.Centimeter
		chartArea := dc
		chartArea.Max.X -= legendW
		tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Centimeter, PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter}
		canvases := plot.Align([][]*plot.Plot{plots}, tiles, chartArea)
		for i, p := range plots {
			p.Draw(canvases[0][i])
		}
		legendArea := dc
		legendArea.Min.X = dc.Max.X - legendW
		if err := drawLegend(legendArea, names); err != nil {
			return nil, err
		}
		name := "wal-append." + format
		f, err := os.Create(filepath.Join(out, name))
		if err != nil {
			return nil, err
		}
		if _, err := c.WriteTo(f); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		files = append(files, name)
	}
	return files, nil
}

func chartPanel(t *Table) (*plot.Plot, []string, error) {
	p := plot.New()
	p.Title.Text = t.Title
	p.X.Label.Text = "concurrent writers"
	p.Y.Label.Text = t.Unit + " (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = shortLogTicks{}
	var xticks []plot.Tick
	var rows []string
	lo, hi := 0.0, 0.0
	for _, r := range legendOrder(t.Rows) {
		var pts plotter.XYs
		for _, c := range t.Cols {
			x := writersOf(c)
			if x <= 0 || len(r.Samples[c]) == 0 {
				continue
			}
			y := Median(r.Samples[c])
			if y <= 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(x), Y: y})
			if lo == 0 || y < lo {
				lo = y
			}
			hi = max(hi, y)
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, nil, err
		}
		st, ok := chartStyle[r.Name]
		if !ok {
			st.c, st.width = color.RGBA{0x60, 0x60, 0x60, 0xff}, 1
		}
		line.Color, line.Width, line.Dashes = st.c, st.width, st.dash
		points.Color, points.Shape = st.c, draw.CircleGlyph{}
		points.Radius = st.width + 1
		p.Add(line, points)
		rows = append(rows, r.Name)
	}
	for _, c := range t.Cols {
		if x := writersOf(c); x > 0 {
			xticks = append(xticks, plot.Tick{Value: float64(x), Label: strconv.Itoa(x)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(xticks)
	if len(xticks) > 0 {
		p.X.Min, p.X.Max = xticks[0].Value/1.3, xticks[len(xticks)-1].Value*1.3
	}
	if lo > 0 {
		p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
	}
	p.Add(plotter.NewGrid())
	return p, rows, nil
}

// writersOf reads the writer count from a column name like "8 writers".
func writersOf(col string) int {
	f := strings.Fields(col)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return n
}

func drawLegend(c draw.Canvas, names []string) error {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.YOffs = -12 * vg.Millimeter
	for _, n := range names {
		st, ok := chartStyle[n]
		if !ok {
			continue
		}
		line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		if err != nil {
			return fmt.Errorf("legend: %w", err)
		}
		line.Color, line.Width, line.Dashes = st.c, st.width, st.dash
		l.Add(n, line)
	}
	l.Draw(c)
	return nil
}

// legendOrder puts mini's rows first, then the physical limits, then the
// peers, each group in table order.
func legendOrder(rows []*Row) []*Row {
	var out []*Row
	for _, role := range []Role{Mini, Limit, Peer} {
		for _, r := range rows {
			if r.Role == role {
				out = append(out, r)
			}
		}
	}
	return out
}

// shortLogTicks labels log-scale ticks as 100, 1k, 10k, 100k, 1M.
type shortLogTicks struct{}

func (shortLogTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = shortNumber(t.Value)
		}
	}
	return ticks
}

func shortNumber(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}
