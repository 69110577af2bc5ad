package load

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"
)

// Latency is one latency's percentiles, in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func latency(h *Histogram) Latency {
	return Latency{Count: h.Count(), P50: msf(h.Quantile(0.5)), P90: msf(h.Quantile(0.9)), P99: msf(h.Quantile(0.99)), P999: msf(h.Quantile(0.999)), Max: msf(h.Max())}
}

// Summary is the outcome of the measured part of a run (after warm-up).
type Summary struct {
	Targets     []string `json:"targets"`
	Users       int      `json:"users"`
	Workers     int      `json:"workers"`
	TargetRate  float64  `json:"target_spins_per_s"`
	Warmup      float64  `json:"warmup_s"`
	Measured    float64  `json:"measured_s"`
	Interrupted bool     `json:"interrupted,omitempty"`

	Counts      Counts  `json:"counts"`
	SpinsPerS   float64 `json:"spins_per_s"`
	MatchesPerS float64 `json:"matches_per_s"`
	Errors      uint64  `json:"errors"`

	// SpinToQueued is spin sent → queued received (the server's handling).
	SpinToQueued Latency `json:"spin_to_queued"`
	// SpinToMatch is spin sent → match_found received (time to match,
	// which includes waiting for a partner).
	SpinToMatch Latency `json:"spin_to_match_found"`
	// Pairing is the later spin of a pair → match_found: the server's
	// part of time to match, without the wait for a partner. Measured
	// for the pairs whose two users are in one worker.
	Pairing Latency `json:"pairing"`

	// ServerPIDs are the server processes measured; empty when none was
	// found (then the server figures are zero).
	ServerPIDs       []int   `json:"server_pids,omitempty"`
	ServerCPU        float64 `json:"server_cpu_s"`
	LoadCPU          float64 `json:"load_cpu_s"`
	ServerCPUPerSpin float64 `json:"server_cpu_ms_per_spin"`
	LoadCPUPerSpin   float64 `json:"load_cpu_ms_per_spin"`
	// DBProcess names the database processes measured (-db-process).
	DBProcess    string  `json:"db_process,omitempty"`
	DBCPU        float64 `json:"db_cpu_s,omitempty"`
	DBCPUPerSpin float64 `json:"db_cpu_ms_per_spin,omitempty"`

	// Memory is the servers' resident memory with every user connected
	// and idle (-idle); nil without -idle or when no server was measured.
	Memory *Memory `json:"memory,omitempty"`
	// ServerRSSPeakMiB is the largest resident memory of the servers
	// together, read at every progress line of the measured part.
	ServerRSSPeakMiB float64 `json:"server_rss_peak_mib,omitempty"`
	// Intervals are the measured part in rows of -interval.
	Intervals []Interval `json:"intervals,omitempty"`
	// Drift compares the last full interval with the first; nil with
	// fewer than two.
	Drift *Drift `json:"drift,omitempty"`
}

// Memory is what the connected, idle users cost the servers: (resident
// memory with them connected − resident memory before they connected) / users.
type Memory struct {
	Users        int     `json:"users"`
	IdleFor      float64 `json:"idle_s"`
	RSSBeforeMiB float64 `json:"server_rss_before_mib"`
	RSSIdleMiB   float64 `json:"server_rss_idle_mib"`
	PerUserKiB   float64 `json:"server_kib_per_user"`
	Connected    int     `json:"connected"`
}

// Interval is one row of a long run.
type Interval struct {
	From        float64 `json:"from_s"` // since the spins started
	To          float64 `json:"to_s"`
	SpinsPerS   float64 `json:"spins_per_s"`
	MatchesPerS float64 `json:"matches_per_s"`
	P50         float64 `json:"spin_to_match_p50_ms"`
	P99         float64 `json:"spin_to_match_p99_ms"`
	Errors      uint64  `json:"errors"`
	Timeouts    uint64  `json:"timeouts"`
	RSSMiB      float64 `json:"server_rss_mib,omitempty"`
}

// Drift is the last interval against the first, as ratios (1 is flat).
type Drift struct {
	P99Ratio float64 `json:"p99_ratio"`
	RSSRatio float64 `json:"rss_ratio,omitempty"`
}

// drift compares the last of the full intervals with the first.
func drift(iv []Interval) *Drift {
	if len(iv) < 2 {
		return nil
	}
	first, last := iv[0], iv[len(iv)-1]
	d := &Drift{}
	if first.P99 > 0 {
		d.P99Ratio = last.P99 / first.P99
	}
	if first.RSSMiB > 0 {
		d.RSSRatio = last.RSSMiB / first.RSSMiB
	}
	return d
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func (s *Summary) fill(measured time.Duration, c Counts, q, f, p *Histogram, from, to cpuMark, pids []int) {
	s.Measured = measured.Seconds()
	s.Counts = c
	if s.Measured > 0 {
		s.SpinsPerS = float64(c.Spins) / s.Measured
		s.MatchesPerS = float64(c.Found) / 2 / s.Measured
	}
	s.Errors = c.ErrorCount()
	s.SpinToQueued = latency(q)
	s.SpinToMatch = latency(f)
	s.Pairing = latency(p)
	s.ServerPIDs = pids
	s.ServerCPU = (to.server - from.server).Seconds()
	s.LoadCPU = (to.load - from.load).Seconds()
	s.DBCPU = max(0, (to.db - from.db).Seconds())
	if c.Spins > 0 {
		s.ServerCPUPerSpin = s.ServerCPU * 1000 / float64(c.Spins)
		s.LoadCPUPerSpin = s.LoadCPU * 1000 / float64(c.Spins)
		s.DBCPUPerSpin = s.DBCPU * 1000 / float64(c.Spins)
	}
}

// Print writes the summary table.
func (s *Summary) Print(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if m := s.Memory; m != nil && s.Measured == 0 && s.Counts.Spins == 0 {
		// -duration 0: only the memory was measured.
		fmt.Fprintf(tw, "users\t%d over %d worker processes, idle\n", s.Users, s.Workers)
		fmt.Fprintf(tw, "memory\t%.1f KiB of server RSS per idle user: %.1f MiB before, %.1f MiB with %d connected after %.0f s idle\n",
			m.PerUserKiB, m.RSSBeforeMiB, m.RSSIdleMiB, m.Connected, m.IdleFor)
		tw.Flush()
		return
	}
	fmt.Fprintf(tw, "measured\t%.1f s (after %.1f s warm-up)%s\n", s.Measured, s.Warmup, map[bool]string{true: ", interrupted"}[s.Interrupted])
	fmt.Fprintf(tw, "users\t%d over %d worker processes\n", s.Users, s.Workers)
	fmt.Fprintf(tw, "spins\t%d (%.0f/s, target %.0f/s), %d missed for want of an idle user\n", s.Counts.Spins, s.SpinsPerS, s.TargetRate, s.Counts.Missed)
	fmt.Fprintf(tw, "matches\t%d match_found (%.0f matches/s), %d results, %d mutual\n", s.Counts.Found, s.MatchesPerS, s.Counts.Results, s.Counts.Mutual)
	fmt.Fprintf(tw, "timeouts\t%d\n", s.Counts.Timeouts)
	fmt.Fprintf(tw, "errors\t%d", s.Errors)
	if s.Counts.Drops > 0 {
		fmt.Fprintf(tw, "  dropped sockets %d", s.Counts.Drops)
	}
	for _, k := range sortedKeys(s.Counts.Errors) {
		fmt.Fprintf(tw, "  %s %d", k, s.Counts.Errors[k])
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "latency\tcount\tp50\tp90\tp99\tp99.9\tmax")
	for _, l := range []struct {
		name string
		l    Latency
	}{{"spin → queued", s.SpinToQueued}, {"spin → match_found", s.SpinToMatch}, {"pairing (later spin → match_found)", s.Pairing}} {
		fmt.Fprintf(tw, "%s\t%d\t%.2f ms\t%.2f ms\t%.2f ms\t%.2f ms\t%.2f ms\n", l.name, l.l.Count, l.l.P50, l.l.P90, l.l.P99, l.l.P999, l.l.Max)
	}
	fmt.Fprintln(tw)
	if m := s.Memory; m != nil {
		fmt.Fprintf(tw, "memory\t%.1f KiB of server RSS per idle user: %.1f MiB before, %.1f MiB with %d connected after %.0f s idle\n",
			m.PerUserKiB, m.RSSBeforeMiB, m.RSSIdleMiB, m.Connected, m.IdleFor)
	}
	if s.ServerRSSPeakMiB > 0 {
		fmt.Fprintf(tw, "\tserver RSS peak %.1f MiB under load\n", s.ServerRSSPeakMiB)
	}
	if len(s.Intervals) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "interval\tspins/s\tmatches/s\tp50\tp99\terrors\ttimeouts\tserver RSS")
		for _, iv := range s.Intervals {
			fmt.Fprintf(tw, "%.0f-%.0f s\t%.0f\t%.0f\t%.2f ms\t%.2f ms\t%d\t%d\t%.1f MiB\n", iv.From, iv.To, iv.SpinsPerS, iv.MatchesPerS, iv.P50, iv.P99, iv.Errors, iv.Timeouts, iv.RSSMiB)
		}
		if d := s.Drift; d != nil {
			fmt.Fprintf(tw, "drift\tlast interval / first: p99 %.2fx, server RSS %.2fx\n", d.P99Ratio, d.RSSRatio)
		}
	}
	fmt.Fprintln(tw)
	if len(s.ServerPIDs) == 0 {
		fmt.Fprintf(tw, "cpu\tload %.1f s (%.3f ms/spin); server not measured (give -server-pid)\n", s.LoadCPU, s.LoadCPUPerSpin)
	} else {
		fmt.Fprintf(tw, "cpu\tserver %.1f s (%.3f ms/spin, pids %v), load %.1f s (%.3f ms/spin)\n", s.ServerCPU, s.ServerCPUPerSpin, s.ServerPIDs, s.LoadCPU, s.LoadCPUPerSpin)
	}
	if s.DBProcess != "" {
		fmt.Fprintf(tw, "\tdatabase (every %s process) %.1f s (%.3f ms/spin)\n", s.DBProcess, s.DBCPU, s.DBCPUPerSpin)
	}
	tw.Flush()
}

// WriteJSON writes the summary as JSON to path.
func (s *Summary) WriteJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
