package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/limit"
)

func TestLoadLimits(t *testing.T) {
	env := map[string]string{
		"SPIN_ENV":                       "development",
		"SPIN_TRUSTED_PROXIES":           "10.0.0.0/8, 192.168.0.1",
		"SPIN_LIMIT_EXEMPT":              "127.0.0.6/32",
		"SPIN_LIMIT_SPIN_ADDRESS":        "2.5:7",
		"SPIN_LIMIT_SIGNAL_USER":         "off",
		"SPIN_LIMIT_REST_PUBLIC_ADDRESS": "5:10",
		"SPIN_LIMIT_SOCKETS_USER":        "3",
		"SPIN_LIMIT_TIMEOUT_S":           "0.5",
	}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	l := c.Actors.Limits
	if l.Address[limit.Spin] != (limit.Rate{PerSecond: 2.5, Burst: 7}) || !l.User[limit.Signal].Unlimited() ||
		l.Address[limit.RestPublic] != (limit.Rate{PerSecond: 5, Burst: 10}) || l.SocketsPerUser != 3 ||
		l.Timeout != 500*time.Millisecond || l.User[limit.Spin] != limit.Defaults().User[limit.Spin] ||
		len(c.Limits.TrustedProxies) != 2 || len(c.Limits.LimitExempt) != 1 {
		t.Fatalf("limits %+v, proxies %v, exempt %v", l, c.Limits.TrustedProxies, c.Limits.LimitExempt)
	}
	for name, bad := range map[string]string{
		"SPIN_TRUSTED_PROXIES":       "10.0.0.0/33",
		"SPIN_LIMIT_EXEMPT":          "nope",
		"SPIN_LIMIT_VOTE_USER":       "5",
		"SPIN_LIMIT_UPGRADE_ADDRESS": "-1:3",
		"SPIN_LIMIT_SPIN_USER":       "1:0",
		"SPIN_LIMIT_SOCKETS_ADDRESS": "many",
		"SPIN_LIMIT_LEASE_S":         "0",
	} {
		_, err := loadConfig(func(k string) string {
			if k == name {
				return bad
			}
			return map[string]string{"SPIN_ENV": "development"}[k]
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v, want an error naming it", name, bad, err)
		}
	}
}
