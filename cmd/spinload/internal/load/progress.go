package load

import (
	"fmt"
	"io"
	"time"
)

// progress writes the live progress line: redrawn in place on a terminal
// (carriage return and erase-line), a plain line each time otherwise.
// Owned by Run's goroutine.
type progress struct {
	out   io.Writer
	tty   bool
	users int
	drawn bool // a line is on the terminal without its newline
}

func (p *progress) line(s string) {
	if p.tty {
		fmt.Fprintf(p.out, "\r\x1b[2K%s", s)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.out, s)
}

// clear ends the in-place line, so what follows starts on its own.
func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.out, "\r\x1b[2K")
		p.drawn = false
	}
}

func (p *progress) connecting(n int) {
	p.line(fmt.Sprintf("connecting %d/%d", n, p.users))
}

// running shows the last window: rates, latencies and errors.
func (p *progress) running(at time.Duration, connected int, c *Counts, q, f *Histogram, window time.Duration) {
	s := window.Seconds()
	if s <= 0 {
		s = 1
	}
	p.line(fmt.Sprintf("[%4.0fs] connected %d/%d  spins/s %6.0f  matches/s %6.0f  spin→match p50 %s p99 %s  missed %d  errors %d",
		at.Seconds(), connected, p.users, float64(c.Spins)/s, float64(c.Found)/2/s,
		ms(f.Quantile(0.5)), ms(f.Quantile(0.99)), c.Missed, c.ErrorCount()))
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
