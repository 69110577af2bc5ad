// Package clientip finds a request's client address: the peer's, or, when
// the peer is a trusted reverse proxy (SPIN_TRUSTED_PROXIES), the
// X-Forwarded-For entry that the nearest untrusted hop stands for. It also
// says which addresses skip the per-address limits (SPIN_LIMIT_EXEMPT),
// and turns an address into the key of its Limiter grain. A Resolver is
// static after New and safe for concurrent use.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver resolves client addresses. Static after New.
type Resolver struct {
	trusted []netip.Prefix
	exempt  []netip.Prefix
}

// New returns a Resolver; trusted are the proxies whose X-Forwarded-For is
// believed, exempt the addresses that skip per-address limits. Nil slices
// mean none.
func New(trusted, exempt []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted, exempt: exempt}
}

// ParsePrefixes parses a comma-separated list of CIDRs (a bare address
// means just that address).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", f)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", f)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns r's client address. The peer is the client unless it is a
// trusted proxy; then X-Forwarded-For is walked from the right (the entry
// the nearest proxy appended), skipping trusted proxies, and the first
// untrusted entry is the client. Entries left of it are the client's own
// claims and are never believed. An entry that does not parse stops the
// walk at the proxy that passed it on. An invalid peer gives the zero Addr.
func (rv *Resolver) Addr(r *http.Request) netip.Addr {
	peer := parseHostPort(r.RemoteAddr)
	if !peer.IsValid() || !contains(rv.trusted, peer) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a := parseEntry(entries[j])
			if !a.IsValid() {
				return client
			}
			client = a
			if !contains(rv.trusted, a) {
				return a
			}
		}
	}
	return client // every hop is a trusted proxy: the left-most one
}

// Exempt reports whether a skips the per-address limits and caps.
func (rv *Resolver) Exempt(a netip.Addr) bool { return a.IsValid() && contains(rv.exempt, a) }

// Key returns the identity of a's Limiter grain: "ip:" and the address;
// an IPv6 address is keyed by its /64, which one subscriber usually holds
// whole (so a client cannot multiply its budget by rotating addresses
// within it).
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return "ip:unknown"
	}
	if a.Is6() {
		return "ip:" + netip.PrefixFrom(a, 64).Masked().String()
	}
	return "ip:" + a.String()
}

func parseHostPort(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parseEntry parses one X-Forwarded-For entry: an address, possibly with a
// port, IPv6 possibly in brackets.
func parseEntry(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a := parseHostPort(s); a.IsValid() {
		return a
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		return parseHostPort(host)
	}
	return parseHostPort(strings.Trim(s, "[]"))
}

type ctxKey struct{}

// WithAddr returns ctx carrying a request's client address (the edge's
// limits middleware sets it; handlers read it with FromContext).
func WithAddr(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the client address WithAddr put in ctx (the zero
// Addr when none).
func FromContext(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(ctxKey{}).(netip.Addr)
	return a
}
