package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/spinmatch/spinmatch/actors"
)

// maxConfiguredPools bounds SPIN_POOLS: every listed pool gets its own
// metric series.
const maxConfiguredPools = 256

// loadPools reads SPIN_POOLS: comma-separated pool names, each
// [a-z0-9_-]{1,32}; unset means any valid name (README, Pools).
func loadPools(getenv func(string) string, c *Config) error {
	v := getenv("SPIN_POOLS")
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var pools []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !actors.ValidPoolName(s) {
			return &configError{"SPIN_POOLS", "must list pool names of a-z, 0-9, '_' and '-' (1 to 32 characters), not " + strconv.Quote(s)}
		}
		if !slices.Contains(pools, s) {
			pools = append(pools, s)
		}
	}
	if len(pools) > maxConfiguredPools {
		return &configError{"SPIN_POOLS", "lists more than " + strconv.Itoa(maxConfiguredPools) + " pools"}
	}
	c.Actors.Pools = pools
	return nil
}
