package main

import (
	"strconv"
	"strings"
)

// statusConfig configures the public /status/ws stream (README, Pages).
type statusConfig struct {
	// Watchers caps the node's /status/ws watchers (SPIN_STATUS_WATCHERS);
	// zero means the default, 1000.
	Watchers int
	// WatchersPerAddress caps one address's (SPIN_STATUS_WATCHERS_ADDRESS);
	// zero means the default, 8.
	WatchersPerAddress int
}

// loadStatus reads SPIN_STATUS_WATCHERS and SPIN_STATUS_WATCHERS_ADDRESS:
// positive whole numbers.
func loadStatus(getenv func(string) string, c *Config) error {
	for _, v := range []struct {
		name string
		dst  *int
	}{{"SPIN_STATUS_WATCHERS", &c.Status.Watchers}, {"SPIN_STATUS_WATCHERS_ADDRESS", &c.Status.WatchersPerAddress}} {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return &configError{v.name, "must be a whole number from 1 to 1000000, not " + quoteShort(s)}
		}
		*v.dst = n
	}
	return nil
}
