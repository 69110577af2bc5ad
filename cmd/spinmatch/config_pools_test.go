package main

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadPools(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string
		err         string
	}{
		{name: "unset", value: "", want: nil},
		{name: "list", value: " eu, us ,eu,,asia_1 ", want: []string{"eu", "us", "asia_1"}},
		{name: "upper case", value: "eu,US", err: `SPIN_POOLS must list pool names of a-z, 0-9, '_' and '-' (1 to 32 characters), not "US"`},
		{name: "too long", value: strings.Repeat("a", 33), err: "SPIN_POOLS"},
		{name: "too many", value: strings.Repeat("p,", 1) + manyPools(300), err: "SPIN_POOLS lists more than 256 pools"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := loadPools(func(k string) string {
				if k == "SPIN_POOLS" {
					return tc.value
				}
				return ""
			}, &c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(c.Actors.Pools, tc.want) {
				t.Fatalf("pools %q err %v, want %q", c.Actors.Pools, err, tc.want)
			}
		})
	}
}

func manyPools(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("p")
		b.WriteString(strings.Repeat("x", i%30))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26%26)))
	}
	return b.String()
}
