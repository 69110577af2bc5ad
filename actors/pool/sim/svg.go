package sim

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// The calibration plot: two panels side by side, the estimator's first
// p50 against the real wait on the left, the predecessor's estimate against
// the same waits on the right, one colour per gender, log-log axes in
// seconds with a y = x diagonal. A point above the diagonal promised too
// long a wait, one below too short. Waits under plotFloor are drawn at it.
const (
	plotFloor   = 0.5  // seconds: the bottom-left corner
	plotSide    = 380  // px: one panel's plot area
	plotLeft    = 70   // px: room for the y labels
	plotTop     = 60   // px: room for the title, plus 14 a line of description
	plotGap     = 110  // px: between the panels
	plotBottom  = 110  // px: x labels and the legend
	plotMaxDots = 500  // per gender and panel (a deterministic stride beyond)
	plotDot     = 2.2  // px: dot radius
	plotOpacity = 0.35 //
	// plotSamePixel bounds the dots drawn on one pixel (paired at once is
	// many dots at the corner).
	plotSamePixel = 6
)

var genderColour = map[pool.Gender]string{pool.Male: "#1f77b4", pool.Female: "#d62728", pool.Nonbinary: "#2ca02c"}

// plotTicks are the axis ticks, in seconds, with their labels.
var plotTicks = []struct {
	s     float64
	label string
}{
	{1, "1s"}, {2, "2s"}, {5, "5s"}, {10, "10s"}, {30, "30s"}, {60, "1m"}, {120, "2m"}, {300, "5m"},
	{600, "10m"}, {1800, "30m"}, {3600, "1h"}, {7200, "2h"}, {21600, "6h"}, {86400, "1d"},
}

// WriteSVG draws res's calibration plot (first pushed estimates of matched
// users) as a standalone SVG document.
func WriteSVG(w io.Writer, res *Result) error {
	bw := bufio.NewWriter(w)
	r := res.run
	top := 10.0
	for _, gr := range r.ByGender {
		for _, s := range gr.First {
			top = math.Max(top, math.Max(s.Real, math.Max(s.P50, s.Pred)))
		}
	}
	for _, t := range plotTicks {
		if t.s >= top {
			top = t.s
			break
		}
	}
	top = math.Max(top, 10)
	scale := func(x float64) float64 {
		x = math.Min(math.Max(x, plotFloor), top)
		return (math.Log(x) - math.Log(plotFloor)) / (math.Log(top) - math.Log(plotFloor)) * plotSide
	}
	desc := wrap(res.Description, 150)
	top0 := plotTop + 14*len(desc) // the top of the plot areas
	width := plotLeft + 2*plotSide + plotGap + 80
	height := top0 + plotSide + plotBottom
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", plotLeft, html.EscapeString("Calibration: "+res.Scenario))
	for i, line := range desc {
		fmt.Fprintf(bw, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", plotLeft, 40+14*i, html.EscapeString(line))
	}
	panels := []struct {
		title string
		est   func(Sample) float64
	}{
		{"this estimator: first pushed p50", func(s Sample) float64 { return s.P50 }},
		{"predecessor: mean wait of the last 5 min", func(s Sample) float64 { return s.Pred }},
	}
	for i, pn := range panels {
		x0 := float64(plotLeft + i*(plotSide+plotGap))
		y0 := float64(top0 + plotSide) // the bottom of the plot area
		fmt.Fprintf(bw, `<g><rect x="%.0f" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, top0, plotSide, plotSide)
		for _, t := range plotTicks {
			if t.s > top {
				break
			}
			p := scale(t.s)
			fmt.Fprintf(bw, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.0f" stroke="#eee"/><line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`+"\n",
				x0+p, top0, x0+p, y0, x0, y0-p, x0+plotSide, y0-p)
			fmt.Fprintf(bw, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text><text x="%.0f" y="%.1f" text-anchor="end" dy="4">%s</text>`+"\n",
				x0+p, y0+16, t.label, x0-6, y0-p, t.label)
		}
		fmt.Fprintf(bw, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%d" stroke="#333" stroke-dasharray="5,4"/>`+"\n", x0, y0, x0+plotSide, top0)
		fmt.Fprintf(bw, `<text x="%.0f" y="%d" font-weight="bold">%s</text>`+"\n", x0, top0-6, html.EscapeString(pn.title))
		fmt.Fprintf(bw, `<text x="%.0f" y="%.0f" text-anchor="middle">real wait (under %gs drawn at %gs; at most %d dots a gender)</text>`+"\n", x0+plotSide/2, y0+34, plotFloor, plotFloor, plotMaxDots)
		fmt.Fprintf(bw, `<text transform="translate(%.0f %.0f) rotate(-90)" text-anchor="middle">estimate</text>`+"\n", x0-48, y0-plotSide/2)
		legendY := y0 + 56
		for _, gr := range r.ByGender {
			if len(gr.First) == 0 {
				continue
			}
			col := genderColour[gr.Gender]
			stride := max(1, (len(gr.First)+plotMaxDots-1)/plotMaxDots)
			drawn := map[[2]int]int{} // dots drawn per pixel: the opacity saturates after a few
			for j := 0; j < len(gr.First); j += stride {
				s := gr.First[j]
				cx, cy := x0+scale(s.Real), y0-scale(pn.est(s))
				px := [2]int{int(math.Round(cx)), int(math.Round(cy))}
				if drawn[px] >= plotSamePixel {
					continue
				}
				drawn[px]++
				fmt.Fprintf(bw, `<circle cx="%.1f" cy="%.1f" r="%g" fill="%s" fill-opacity="%g"/>`+"\n", cx, cy, plotDot, col, plotOpacity)
			}
			row := scoreSamples(gr.Gender, PhaseFirst, gr.First)
			mae, within := row.MAE, row.Within25
			if i == 1 {
				mae, within = row.PredMAE, row.PredWithin25
			}
			fmt.Fprintf(bw, `<circle cx="%.0f" cy="%.0f" r="5" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
				x0+6, legendY-4, col, x0+16, legendY,
				html.EscapeString(fmt.Sprintf("%s: n %d, median error %s, %s within 25%%", gr.Gender.Plural(), len(gr.First), secs(mae), pct(within))))
			legendY += 16
		}
		fmt.Fprintln(bw, `</g>`)
	}
	fmt.Fprintln(bw, `</svg>`)
	return bw.Flush()
}

// wrap cuts s into lines of at most width bytes at ", " boundaries (a
// longer piece gets a line of its own).
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, piece := range strings.SplitAfter(s, ", ") {
		if line != "" && len(line)+len(piece) > width {
			lines = append(lines, strings.TrimSuffix(line, ", "))
			line = ""
		}
		line += piece
	}
	return append(lines, line)
}
