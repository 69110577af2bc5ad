package load

import (
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{Targets: []string{"http://127.0.0.1:8080/"}, Users: 100, Rate: 50, Duration: 10 * time.Second, Warmup: time.Second, Yes: 0.5}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		want   string // substring of the error; "" for none
	}{
		{"defaults", func(c *Config) {}, ""},
		{"no target", func(c *Config) { c.Targets = nil }, "-target"},
		{"not http", func(c *Config) { c.Targets = []string{"ftp://x"} }, "-target"},
		{"one user", func(c *Config) { c.Users = 1 }, "-users"},
		{"zero rate", func(c *Config) { c.Rate = 0 }, "-rate"},
		{"warm-up as long as the run", func(c *Config) { c.Warmup = c.Duration }, "-warmup"},
		{"yes above 1", func(c *Config) { c.Yes = 1.5 }, "-yes"},
		{"unknown gender", func(c *Config) { c.Genders = map[string]float64{"robot": 1} }, "-genders"},
		{"all weights zero", func(c *Config) { c.Genders = map[string]float64{"male": 0} }, "-genders"},
		{"bad pool", func(c *Config) { c.Pools = []string{"Not A Pool"} }, "-pools"},
		{"too few workers", func(c *Config) { c.Users = 20_000; c.Workers = 2 }, "-workers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.Targets[0] != "http://127.0.0.1:8080" || c.Workers != 1 || c.Pools[0] != "global" || c.MatchTimeout == 0 {
					t.Fatalf("defaults not applied: %+v", c)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line starting %q", err, tc.want)
			}
		})
	}
}

func TestWorkersByDefaultStayUnderTheFileLimit(t *testing.T) {
	c := validConfig()
	c.Users = 18_001
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 {
		t.Fatalf("workers %d, want 3 for 18,001 users at %d each", c.Workers, MaxPerWorker)
	}
}

func TestParseSources(t *testing.T) {
	got, err := ParseSources("127.0.0.1-127.0.0.4, 127.0.1.9")
	if err != nil || len(got) != 5 || got[3].String() != "127.0.0.4" || got[4].String() != "127.0.1.9" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"127.0.0.9-127.0.0.1", "nope", "10.0.0.0-10.0.2.0"} {
		if _, err := ParseSources(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestAssignKeepsTheWeights(t *testing.T) {
	gs := assign(map[string]float64{"male": 3, "female": 1, "nonbinary": 0}, 400)
	n := map[string]int{}
	for i, g := range gs {
		n[g]++
		if i == 3 && n["female"] != 1 {
			t.Fatalf("not interleaved: %v", gs[:4])
		}
	}
	if n["male"] != 300 || n["female"] != 100 || n["nonbinary"] != 0 {
		t.Fatalf("counts %v", n)
	}
}
