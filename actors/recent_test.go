package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// TestRecentPartnersCompact: a user's partners within the rematch cooldown
// are kept in about 14 bytes each (id and Unix nanoseconds pairs cost
// about 20, a map of them about 73), so that 6,000 users with 150
// partners each (ten minutes at 1,500 spins/s under the default 24 h
// cooldown) hold about 13 MB rather than 18 or 66. The figure measured
// includes the session struct, about 4 bytes a partner here. The set
// still holds every partner within the cooldown, drops those past it, and
// gives its memory back when it shrinks.
func TestRecentPartnersCompact(t *testing.T) {
	const users, partners = 1000, 150
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	d := &Deps{Config: Config{RematchCooldown: time.Hour}, Now: func() time.Time { return now }}
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("load-run-%d", i)
	}
	sessions := make([]*session, users)
	before := heapAlloc()
	for i := range sessions {
		s := &session{d: d, userID: ids[i]}
		for j := range partners {
			s.addRecent(ids[(i+1+j)%users], now.Add(time.Duration(j)*time.Second))
		}
		sessions[i] = s
	}
	per := float64(heapAlloc()-before) / (users * partners)
	runtime.KeepAlive(sessions)
	t.Logf("%.1f bytes a recent partner", per)
	if per > 20 {
		t.Fatalf("%.1f bytes a recent partner, want at most 20", per)
	}

	s := sessions[0]
	got := s.recentIDs()
	if len(got) != partners || !slices.Contains(got, ids[1]) || !slices.Contains(got, ids[partners]) || slices.Contains(got, ids[0]) {
		t.Fatalf("recent ids %d, want partners 1..%d", len(got), partners)
	}
	// An hour and 100 s after the first: partners 0..99 are past the
	// cooldown (met at +0..+99 s), 100..149 are not.
	s.pruneRecent(now.Add(time.Hour + 100*time.Second - time.Nanosecond))
	got = s.recentIDs()
	if len(got) != partners-100 || slices.Contains(got, ids[100]) || !slices.Contains(got, ids[101]) {
		t.Fatalf("after the cooldown of 100 of them: %d left, want %d (partners 101..150)", len(got), partners-100)
	}
	if cap(s.recent.ids) > 4*s.recent.len() || cap(s.recent.at) > 4*s.recent.len() {
		t.Fatalf("a set of %d keeps room for %d", s.recent.len(), cap(s.recent.ids))
	}
	s.pruneRecent(now.Add(2 * time.Hour))
	if s.recent.ids != nil || s.recent.at != nil || s.recentIDs() != nil {
		t.Fatalf("past everyone's cooldown the set holds %d", s.recent.len())
	}
	// Times are kept in whole seconds, rounded up: a partner is kept up
	// to a second longer than the cooldown, never shorter.
	at := now.Add(3*time.Hour + 300*time.Millisecond)
	s.addRecent(ids[1], at)
	s.pruneRecent(at.Add(time.Hour + 699*time.Millisecond))
	if s.recent.len() != 1 {
		t.Fatal("a partner dropped before the cooldown was up")
	}
	s.pruneRecent(at.Add(time.Hour + 700*time.Millisecond + time.Nanosecond))
	if s.recent.len() != 0 {
		t.Fatal("a partner kept over a second past the cooldown")
	}
	// With no cooldown nothing is kept.
	s.d = &Deps{Config: Config{}, Now: d.Now}
	s.addRecent(ids[1], now)
	if s.recent.len() != 0 {
		t.Fatal("a partner kept with no rematch cooldown")
	}
}

// heapAlloc returns the live heap after a collection.
func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestCooldownKeepsPartnersApart: the compact set still keeps a pair
// apart. Ann and Bob are paired and say no; when both spin again they
// are not paired with each other, and Cal, who spins next, gets Ann.
func TestCooldownKeepsPartnersApart(t *testing.T) {
	cfg := TestConfig()
	cfg.RematchCooldown = time.Hour
	sys, _ := boundedNode(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const pool = "cooldown"
	putProfile(t, sys, "ann", "female", pool, "male")
	putProfile(t, sys, "bob", "male", pool, "female")
	putProfile(t, sys, "cal", "male", pool, "female")
	command := func(id string, c *msg.Command) *msg.Event {
		t.Helper()
		ev, err := sys.Command(ctx, id, c)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return ev
	}
	spin := func(id string) { command(id, &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}}) }
	state := func(id string) *msg.State {
		return command(id, &msg.Command{Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}}).GetState()
	}
	partner := func(id string) string {
		m := state(id).GetMatch()
		if m.GetA().GetUserId() == id {
			return m.GetB().GetUserId()
		}
		return m.GetA().GetUserId()
	}

	spin("ann")
	spin("bob")
	clustertest.Eventually(t, 5*time.Second, "Ann and Bob to be matched", func() bool {
		return state("ann").State == StateMatched && partner("ann") == "bob"
	})
	id := state("ann").GetMatch().GetMatchId()
	for _, u := range []string{"ann", "bob"} {
		command(u, &msg.Command{Kind: &msg.Command_Vote{Vote: &msg.Vote{MatchId: id, Choice: "no"}}})
	}
	clustertest.Eventually(t, 10*time.Second, "Ann and Bob to be idle again", func() bool {
		return state("ann").State == StateIdle && state("bob").State == StateIdle
	})
	spin("ann")
	spin("bob")
	if a, b := state("ann").State, state("bob").State; a != StateQueued || b != StateQueued {
		t.Fatalf("Ann %s, Bob %s: want both queued (they met within the cooldown)", a, b)
	}
	spin("cal")
	clustertest.Eventually(t, 5*time.Second, "Cal to be matched", func() bool { return state("cal").State == StateMatched })
	if p := partner("cal"); p != "ann" {
		t.Fatalf("Cal was paired with %q, want ann", p)
	}
	if s := state("bob").State; s != StateQueued {
		t.Fatalf("Bob %s, want still queued", s)
	}
}

// TestEnqueueKeepsTheSessionsPartners: the pool keeps the sorted partners
// a session sends as they come; it used to build a map of them at every
// enqueue and re-announcement (about 50 bytes a partner, 150 partners a
// user after ten minutes of the long load run).
func TestEnqueueKeepsTheSessionsPartners(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := &session{d: &Deps{Config: Config{RematchCooldown: time.Hour}}, userID: "me"}
	for i := range 150 {
		s.addRecent(fmt.Sprintf("u%03d", 149-i), now)
	}
	ids := s.recentIDs()
	if !slices.IsSorted(ids) || len(ids) != 150 {
		t.Fatalf("the session sends %d partners, sorted %v", len(ids), slices.IsSorted(ids))
	}
	m := &msg.Waiter{UserId: "me", Gender: "male", Seeking: []string{"female"}, RecentPartners: ids}
	var pw *pool.Waiter
	allocs := testing.AllocsPerRun(100, func() { pw, _ = toWaiter(m) })
	if allocs > 1 {
		t.Fatalf("toWaiter: %.0f allocations for 150 partners, want 1 (the waiter)", allocs)
	}
	if !pw.Recent.Has("u000") || !pw.Recent.Has("u149") || pw.Recent.Has("u150") {
		t.Fatal("the waiter's cooldown lost partners")
	}
}

// TestRecentSetStaysSorted: partners added in any order, some twice, come
// out sorted and once each, before and after a prune, and an id met again
// keeps its later time.
func TestRecentSetStaysSorted(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var r recentSet
	met := map[string]time.Time{}
	for i := range 400 {
		id := fmt.Sprintf("u%d", rng.IntN(300))
		at := now.Add(time.Duration(i) * time.Second)
		r.add(id, at)
		met[id] = at
	}
	want := func(cutoff time.Time) []string {
		var ids []string
		for id, at := range met {
			if !at.Before(cutoff) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	if got, w := r.sorted(), want(now); !slices.Equal(got, w) {
		t.Fatalf("sorted() = %d ids %v..., want %d", len(got), got[:min(5, len(got))], len(w))
	}
	// A cooldown of 200 s at +400 s keeps those last met at +200 s or later.
	r.prune(now.Add(400*time.Second), 200*time.Second)
	if got, w := r.sorted(), want(now.Add(200*time.Second)); !slices.Equal(got, w) || len(w) == 0 || len(w) == len(met) {
		t.Fatalf("after the prune: %d ids, want %d of %d", len(got), len(w), len(met))
	}
}

// BenchmarkRecentSpin measures what a spin costs the partner set of a
// user who met 150 partners: one more partner added (and one dropped, to
// keep the size) and the sorted copy sent to the pool.
func BenchmarkRecentSpin(b *testing.B) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var r recentSet
	for j := range 150 {
		r.add(fmt.Sprintf("load-u%d", (j*7919)%100_000), now.Add(time.Duration(j)*time.Second))
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("load-u%d", 100_000+(i*7919)%100_000)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		at := now.Add(time.Duration(150+i) * time.Second)
		r.add(ids[i%len(ids)], at)
		r.prune(at, 150*time.Second)
		if len(r.sorted()) == 0 {
			b.Fatal("empty")
		}
		i++
	}
}
