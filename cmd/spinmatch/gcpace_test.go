package main

import (
	"testing"
	"time"
)

// TestGCPaceFollowsTheSpinRate walks a pace through a rate that rises
// past the busy mark, dips between the marks (it stays busy), and falls
// under the lower one, on an injected clock.
func TestGCPaceFollowsTheSpinRate(t *testing.T) {
	var spins int64
	at := time.Unix(0, 0)
	var sets []int
	p := newGCPace(func() int64 { return spins })
	p.now = func() time.Time { return at }
	p.set = func(v int) int { sets = append(sets, v); return 0 }
	steps := []struct {
		name string
		rate int64 // spins in the second before the step
		busy bool
	}{
		{"first look", 0, false},
		{"idle", 10, false},
		{"under the mark", gcBusyOn - 1, false},
		{"at the mark", gcBusyOn, true},
		{"between the marks", gcBusyOff + 1, true},
		{"under the lower mark", gcBusyOff - 1, false},
		{"busy again", 3 * gcBusyOn, true},
	}
	for _, s := range steps {
		spins += s.rate
		at = at.Add(time.Second)
		if got := p.step(); got != s.busy {
			t.Fatalf("%s (%d spins/s): busy %v, want %v", s.name, s.rate, got, s.busy)
		}
	}
	want := []int{gcBusyDefault, gcBaseDefault, gcBusyDefault}
	if len(sets) != len(want) {
		t.Fatalf("GOGC set to %v, want %v", sets, want)
	}
	for i := range want {
		if sets[i] != want[i] {
			t.Fatalf("GOGC set to %v, want %v", sets, want)
		}
	}
}

// TestGCPaceOnlyWithoutGOGC checks the config: GOGC in the environment
// turns the pace off.
func TestGCPaceOnlyWithoutGOGC(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want bool
	}{{"", true}, {"200", false}, {"off", false}} {
		env := map[string]string{"SPIN_ENV": "development", "GOGC": tc.gogc}
		c, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if c.GCPace != tc.want {
			t.Errorf("GOGC=%q: GCPace %v, want %v", tc.gogc, c.GCPace, tc.want)
		}
	}
}
