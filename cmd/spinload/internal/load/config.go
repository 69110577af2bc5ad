package load

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is one load run. The coordinator parses it from flags
// (cmd/spinload) and hands each worker its share.
type Config struct {
	// Targets are the servers' base URLs (http or https); user i connects
	// to Targets[i % len(Targets)].
	Targets []string
	// Users is how many users connect, over all workers.
	Users int
	// Rate is the spins a second the run aims at, over all workers, paced
	// open-loop: a spin is due at its time whether or not earlier ones
	// were answered; a due spin with no idle user to send it is counted
	// as missed, not sent later.
	Rate float64
	// Duration is how long spins are sent, warm-up included.
	Duration time.Duration
	// Warmup is the first part of Duration left out of the summary.
	Warmup time.Duration
	// Genders weighs the users' genders (male, female, nonbinary); each
	// seeks the other binary gender, nonbinary seeks all.
	Genders map[string]float64
	// Pools are the pools the users are spread over, round robin.
	Pools []string
	// Yes is the probability a user votes yes.
	Yes float64
	// VoteDelay is how long a user waits after match_found before voting.
	VoteDelay time.Duration
	// MatchTimeout is how long a queued user waits for match_found before
	// it cancels and counts a timeout.
	MatchTimeout time.Duration
	// Secret mints HS256 tokens (the server's JWT_SECRET). Empty: tokens
	// come from POST /api/test/batch-setup.
	Secret string
	// TestKey is sent as x-test-api-key to the test routes.
	TestKey string
	// Workers is how many worker processes hold the connections. Zero
	// value: one per MaxPerWorker users.
	Workers int
	// Sources are the local addresses connections are made from, round
	// robin (net.Dialer LocalAddr). Empty: the system picks.
	Sources []netip.Addr
	// ConnectRate caps new connections a second over all workers; zero
	// means 2,000.
	ConnectRate float64
	// WaitReady is how long to wait for every target's /readyz to answer
	// 200 before giving up. Zero value: ask once.
	WaitReady time.Duration
	// RunID names this run's users (load-<RunID>-<n>), so a new run meets
	// no rematch cooldown of an earlier one.
	RunID string
	// Idle holds every user connected and signed in, sending nothing, for
	// this long before the spins start; the servers' resident memory is
	// read at its end (Summary.Memory). Zero value: spins start at once.
	Idle time.Duration
	// Interval splits the measured part into rows of this length
	// (Summary.Intervals), each with its rates, latency and the servers'
	// memory, so a long run shows whether it degrades. Zero value: none.
	Interval time.Duration
}

// MaxPerWorker is the most connections one worker holds, well under the
// 20,000 open files a process may have.
const MaxPerWorker = 9000

// poolName is the server's rule for pool names.
var poolName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// Genders are the genders the server knows, in its order.
var Genders = []string{"male", "female", "nonbinary"}

// Validate checks c and applies the defaults. Its errors are one line
// each, naming the flag.
func (c *Config) Validate() error {
	if len(c.Targets) == 0 {
		return errors.New("-target: give at least one base URL, for example http://127.0.0.1:8080")
	}
	for i, t := range c.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-target: %q is not an http(s) base URL", t)
		}
		c.Targets[i] = strings.TrimRight(t, "/")
	}
	// -duration 0 with -idle only connects, holds idle and measures memory.
	idleOnly := c.Duration == 0 && c.Idle > 0
	if idleOnly {
		c.Warmup, c.Interval = 0, 0
	}
	switch {
	case c.Users < 2:
		return errors.New("-users: at least 2 users are needed to make a match")
	case c.Users > 1_000_000:
		return errors.New("-users: at most 1,000,000")
	case c.Idle < 0:
		return errors.New("-idle: must not be negative")
	case c.Interval < 0:
		return errors.New("-interval: must not be negative")
	case !idleOnly && (!(c.Rate > 0) || math.IsInf(c.Rate, 0)):
		return errors.New("-rate: spins a second must be a number above 0")
	case !idleOnly && c.Duration <= 0:
		return errors.New("-duration: must be above 0, for example 30s (or 0 with -idle: connect and measure memory only)")
	case c.Warmup < 0 || (!idleOnly && c.Warmup >= c.Duration):
		return errors.New("-warmup: must be at least 0 and shorter than -duration")
	case !(c.Yes >= 0 && c.Yes <= 1):
		return errors.New("-yes: a probability from 0 to 1")
	case c.VoteDelay < 0:
		return errors.New("-vote-delay: must not be negative")
	case c.Workers < 0 || c.Workers > 64:
		return errors.New("-workers: from 0 (one per 9,000 users) to 64")
	case c.ConnectRate < 0:
		return errors.New("-connect-rate: must not be negative")
	}
	if c.MatchTimeout <= 0 {
		c.MatchTimeout = 30 * time.Second
	}
	if c.ConnectRate == 0 {
		c.ConnectRate = 2000
	}
	if len(c.Genders) == 0 {
		c.Genders = map[string]float64{"male": 1, "female": 1}
	}
	sum := 0.0
	for g, w := range c.Genders {
		if !known(g) {
			return fmt.Errorf("-genders: %q is not one of male, female, nonbinary", g)
		}
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("-genders: the weight of %s must be a number, 0 or more", g)
		}
		sum += w
	}
	if !(sum > 0) {
		return errors.New("-genders: give at least one gender a weight above 0")
	}
	if len(c.Pools) == 0 {
		c.Pools = []string{"global"}
	}
	for _, p := range c.Pools {
		if !poolName.MatchString(p) {
			return fmt.Errorf("-pools: %q is not a pool name ([a-z0-9_-], 1 to 32 characters)", p)
		}
	}
	if c.Workers == 0 {
		c.Workers = (c.Users + MaxPerWorker - 1) / MaxPerWorker
	}
	if c.Workers > c.Users {
		c.Workers = c.Users
	}
	if (c.Users+c.Workers-1)/c.Workers > MaxPerWorker {
		return fmt.Errorf("-workers: %d workers would hold more than %d connections each; use at least %d", c.Workers, MaxPerWorker, (c.Users+MaxPerWorker-1)/MaxPerWorker)
	}
	return nil
}

func known(g string) bool {
	for _, k := range Genders {
		if g == k {
			return true
		}
	}
	return false
}

// ParseGenders parses "male=1,female=1".
func ParseGenders(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		g, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("-genders: %q is not gender=weight", part)
		}
		f, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return nil, fmt.Errorf("-genders: the weight in %q is not a number", part)
		}
		out[strings.TrimSpace(g)] = f
	}
	return out, nil
}

// ParseSources parses local addresses: "127.0.0.1-127.0.0.8" or a comma
// list of addresses.
func ParseSources(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(lo)
		if err != nil {
			return nil, fmt.Errorf("-sources: %q is not an IP address", lo)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := netip.ParseAddr(hi)
		if err != nil || !a.Is4() || !b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("-sources: %q is not a range of IPv4 addresses, low-high", part)
		}
		for x := a; !b.Less(x); x = x.Next() {
			out = append(out, x)
			if len(out) > 256 {
				return nil, errors.New("-sources: at most 256 addresses")
			}
		}
	}
	return out, nil
}

// assign returns user n's gender, spread in proportion to the weights and
// interleaved (each user takes the gender furthest behind its share).
func assign(weights map[string]float64, total int) []string {
	gs := make([]string, 0, len(weights))
	sum := 0.0
	for g, w := range weights {
		if w > 0 {
			gs = append(gs, g)
			sum += w
		}
	}
	sort.Strings(gs)
	out := make([]string, total)
	have := map[string]int{}
	for i := range out {
		best, bestLag := gs[0], math.Inf(-1)
		for _, g := range gs {
			lag := weights[g]/sum*float64(i+1) - float64(have[g])
			if lag > bestLag {
				best, bestLag = g, lag
			}
		}
		out[i] = best
		have[best]++
	}
	return out
}

// seeking is who a user of gender g seeks (as batch-setup does).
func seeking(g string) []string {
	switch g {
	case "male":
		return []string{"female"}
	case "female":
		return []string{"male"}
	default:
		return Genders
	}
}
