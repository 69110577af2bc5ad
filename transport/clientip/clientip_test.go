package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	rv := New(trusted, nil)
	cases := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"no proxy", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"spoofed XFF from an untrusted peer is ignored", "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted proxy names the client", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"client's own claim left of the real entry is ignored", "10.1.2.3:80", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},
		{"two trusted proxies skipped from the right", "10.1.2.3:80", []string{"1.2.3.4, 198.51.100.9, 192.168.1.1"}, "198.51.100.9"},
		{"several headers are one list", "10.1.2.3:80", []string{"1.2.3.4", "198.51.100.9", "10.9.9.9"}, "198.51.100.9"},
		{"all hops trusted: the left-most", "10.1.2.3:80", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage stops at the proxy that passed it", "10.1.2.3:80", []string{"198.51.100.9, not-an-ip"}, "10.1.2.3"},
		{"no XFF from a trusted proxy: the proxy", "10.1.2.3:80", nil, "10.1.2.3"},
		{"entry with a port", "10.1.2.3:80", []string{"198.51.100.9:4711"}, "198.51.100.9"},
		{"IPv6 in brackets", "10.1.2.3:80", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv6 peer", "[2001:db8::5]:443", nil, "2001:db8::5"},
		{"4in6 peer unmapped", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := rv.Addr(r); got.String() != c.want {
				t.Fatalf("Addr = %v, want %s", got, c.want)
			}
		})
	}
}

func TestNoTrustedProxies(t *testing.T) {
	rv := New(nil, nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.5:1000"
	r.Header.Set("X-Forwarded-For", "127.0.0.6")
	if got := rv.Addr(r); got.String() != "127.0.0.5" {
		t.Fatalf("Addr = %v", got)
	}
}

func TestExemptAndParse(t *testing.T) {
	ex, err := ParsePrefixes("127.0.0.6/32,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	rv := New(nil, ex)
	for addr, want := range map[string]bool{"127.0.0.6": true, "127.0.0.5": false, "2001:db8:1::1": true, "2001:db9::1": false} {
		if got := rv.Exempt(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Exempt(%s) = %v", addr, got)
		}
	}
	if rv.Exempt(netip.Addr{}) {
		t.Error("the zero address is exempt")
	}
	for _, bad := range []string{"nope", "10.0.0.0/33", "1.2.3"} {
		if _, err := ParsePrefixes(bad); err == nil {
			t.Errorf("ParsePrefixes(%q) accepted", bad)
		}
	}
	if ps, err := ParsePrefixes(""); err != nil || len(ps) != 0 {
		t.Errorf("empty list: %v %v", ps, err)
	}
}

func TestKey(t *testing.T) {
	cases := map[string]string{
		"203.0.113.7":          "ip:203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "ip:2001:db8:1:2::/64",
		"2001:db8:1:2::9":      "ip:2001:db8:1:2::/64",
	}
	for in, want := range cases {
		if got := Key(netip.MustParseAddr(in)); got != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
	if Key(netip.Addr{}) != "ip:unknown" {
		t.Error("zero key")
	}
}
