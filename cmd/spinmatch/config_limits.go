package main

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/transport/clientip"
)

// limitsConfig is the client-address part of the configuration; the
// budgets themselves are in Config.Actors.Limits.
type limitsConfig struct {
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (SPIN_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// LimitExempt skip the per-address limits and caps (SPIN_LIMIT_EXEMPT).
	LimitExempt []netip.Prefix
}

// loadLimits reads SPIN_TRUSTED_PROXIES, SPIN_LIMIT_EXEMPT and the
// SPIN_LIMIT_* budgets (README, Configuration): for every action,
// SPIN_LIMIT_<ACTION>_USER and SPIN_LIMIT_<ACTION>_ADDRESS as
// "<per second>:<burst>" ("off" or "0" for none), plus the socket caps
// SPIN_LIMIT_SOCKETS_USER and SPIN_LIMIT_SOCKETS_ADDRESS, the limiter
// timeout SPIN_LIMIT_TIMEOUT_S and the socket lease TTL SPIN_LIMIT_LEASE_S.
func loadLimits(getenv func(string) string, c *Config) error {
	for _, p := range []struct {
		name string
		dst  *[]netip.Prefix
	}{{"SPIN_TRUSTED_PROXIES", &c.Limits.TrustedProxies}, {"SPIN_LIMIT_EXEMPT", &c.Limits.LimitExempt}} {
		ps, err := clientip.ParsePrefixes(getenv(p.name))
		if err != nil {
			return &configError{p.name, "must be comma-separated CIDRs: " + err.Error()}
		}
		*p.dst = ps
	}
	b := &c.Actors.Limits.Budgets
	for a := limit.Action(0); a < limit.NumActions; a++ {
		if a == limit.Sockets {
			continue
		}
		for _, s := range []struct {
			suffix string
			dst    *limit.Rate
		}{{"_USER", &b.User[a]}, {"_ADDRESS", &b.Address[a]}} {
			name := "SPIN_LIMIT_" + strings.ToUpper(a.String()) + s.suffix
			v := getenv(name)
			if v == "" {
				continue
			}
			r, ok := parseRate(v)
			if !ok {
				return &configError{name, `must be "<per second>:<burst>" (for example 5:20) or off, not ` + strconv.Quote(v)}
			}
			*s.dst = r
		}
	}
	for _, s := range []struct {
		name string
		dst  *int
	}{{"SPIN_LIMIT_SOCKETS_USER", &b.SocketsPerUser}, {"SPIN_LIMIT_SOCKETS_ADDRESS", &b.SocketsPerAddress}} {
		v := getenv(s.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			return &configError{s.name, "must be a whole number of sockets (0: no cap), not " + strconv.Quote(v)}
		}
		*s.dst = n
	}
	for _, s := range []struct {
		name string
		dst  *time.Duration
	}{{"SPIN_LIMIT_TIMEOUT_S", &c.Actors.Limits.Timeout}, {"SPIN_LIMIT_LEASE_S", &c.Actors.Limits.LeaseTTL}} {
		v := getenv(s.name)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 3600 {
			return &configError{s.name, "must be a positive number of seconds, not " + strconv.Quote(v)}
		}
		*s.dst = time.Duration(f * float64(time.Second))
	}
	return nil
}

// parseRate parses "<per second>:<burst>", or "off"/"0" (unlimited).
func parseRate(v string) (limit.Rate, bool) {
	v = strings.TrimSpace(v)
	if v == "off" || v == "0" {
		return limit.Rate{}, true
	}
	rate, burst, ok := strings.Cut(v, ":")
	if !ok {
		return limit.Rate{}, false
	}
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil || r <= 0 || r > 1e6 || math.IsNaN(r) {
		return limit.Rate{}, false
	}
	n, err := strconv.Atoi(burst)
	if err != nil || n < 1 || n > 1e6 {
		return limit.Rate{}, false
	}
	return limit.Rate{PerSecond: r, Burst: n}, true
}
