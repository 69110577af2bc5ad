package pool

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 20, 0, 0, 0, time.UTC)

// wt builds a waiter who enqueued sec seconds after t0; recent lists users
// on cooldown.
func wt(id string, g Gender, seeking GenderSet, sec int, recent ...string) *Waiter {
	w := &Waiter{UserID: id, DisplayName: id, Gender: g, Seeking: seeking, EnqueuedAt: t0.Add(time.Duration(sec) * time.Second)}
	w.Recent = PartnersOf(recent)
	return w
}

var (
	sM   = SetOf(Male)
	sF   = SetOf(Female)
	sN   = SetOf(Nonbinary)
	sMF  = SetOf(Male, Female)
	sAll = SetOf(Male, Female, Nonbinary)
)

func TestCompatible(t *testing.T) {
	tests := []struct {
		name string
		a, b *Waiter
		want bool
	}{
		{"man and woman seeking each other", wt("a", Male, sF, 0), wt("b", Female, sM, 0), true},
		{"man seeks woman who seeks women", wt("a", Male, sF, 0), wt("b", Female, sF, 0), false},
		{"woman seeks men, man seeks men", wt("a", Female, sM, 0), wt("b", Male, sM, 0), false},
		{"two men seeking men", wt("a", Male, sM, 0), wt("b", Male, sM, 0), true},
		{"same user", wt("a", Male, sM, 0), wt("a", Male, sM, 0), false},
		{"nonbinary and woman", wt("a", Nonbinary, sF, 0), wt("b", Female, sN, 0), true},
		{"nonbinary not sought", wt("a", Nonbinary, sF, 0), wt("b", Female, sM, 0), false},
		{"multi-gender seeking", wt("a", Female, sAll, 0), wt("b", Nonbinary, sMF, 0), true},
		{"a has b on cooldown", wt("a", Male, sF, 0, "b"), wt("b", Female, sM, 0), false},
		{"b has a on cooldown", wt("a", Male, sF, 0), wt("b", Female, sM, 0, "a"), false},
		{"cooldown of someone else", wt("a", Male, sF, 0, "z"), wt("b", Female, sM, 0, "y"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compatible(tt.a, tt.b); got != tt.want {
				t.Errorf("Compatible(a, b) = %v, want %v", got, tt.want)
			}
			if got := Compatible(tt.b, tt.a); got != tt.want {
				t.Errorf("Compatible(b, a) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQueueAdd(t *testing.T) {
	tests := []struct {
		name    string
		queued  []*Waiter // added first, in this order; none may pair
		add     *Waiter
		want    string   // partner's id, "" for none
		waiting []string // ids still queued afterwards, oldest first
	}{
		{
			name:    "empty queue",
			add:     wt("w", Female, sM, 10),
			waiting: []string{"w"},
		},
		{
			name:    "oldest compatible first",
			queued:  []*Waiter{wt("m2", Male, sF, 2), wt("m1", Male, sF, 1), wt("m3", Male, sF, 3)},
			add:     wt("w", Female, sM, 10),
			want:    "m1",
			waiting: []string{"m2", "m3"},
		},
		{
			name:    "oldest across buckets",
			queued:  []*Waiter{wt("m-f", Male, sF, 5), wt("m-fn", Male, SetOf(Female, Nonbinary), 3), wt("m-all", Male, sAll, 4)},
			add:     wt("w", Female, sM, 10),
			want:    "m-fn",
			waiting: []string{"m-all", "m-f"},
		},
		{
			name:    "ties by insertion order",
			queued:  []*Waiter{wt("m-b", Male, sAll, 1), wt("m-a", Male, sF, 1)},
			add:     wt("w", Female, sM, 10),
			want:    "m-b",
			waiting: []string{"m-a"},
		},
		{
			name:    "incompatible: she seeks women",
			queued:  []*Waiter{wt("m", Male, sF, 1)},
			add:     wt("w", Female, sF, 10),
			waiting: []string{"m", "w"},
		},
		{
			name:    "incompatible: he seeks men",
			queued:  []*Waiter{wt("m", Male, sM, 1)},
			add:     wt("w", Female, sM, 10),
			waiting: []string{"m", "w"},
		},
		{
			name:    "older incompatible skipped",
			queued:  []*Waiter{wt("m-m", Male, sM, 1), wt("w-w", Female, sF, 2), wt("m-f", Male, sF, 3)},
			add:     wt("w", Female, sM, 10),
			want:    "m-f",
			waiting: []string{"m-m", "w-w"},
		},
		{
			name:    "cooldown: newcomer has the head on cooldown",
			queued:  []*Waiter{wt("m1", Male, sF, 1), wt("m2", Male, sF, 2)},
			add:     wt("w", Female, sM, 10, "m1"),
			want:    "m2",
			waiting: []string{"m1"},
		},
		{
			name:    "cooldown: the head has the newcomer on cooldown",
			queued:  []*Waiter{wt("m1", Male, sF, 1, "w"), wt("m2", Male, sF, 2)},
			add:     wt("w", Female, sM, 10),
			want:    "m2",
			waiting: []string{"m1"},
		},
		{
			name:    "cooldown: everyone on cooldown",
			queued:  []*Waiter{wt("m1", Male, sF, 1), wt("m2", Male, sF, 2)},
			add:     wt("w", Female, sM, 10, "m1", "m2"),
			waiting: []string{"m1", "m2", "w"},
		},
		{
			name:    "cooldown: blocked head of one bucket, older head of another wins",
			queued:  []*Waiter{wt("m1", Male, sF, 1), wt("m3", Male, sF, 3), wt("m2", Male, sAll, 2)},
			add:     wt("w", Female, sM, 10, "m1"),
			want:    "m2",
			waiting: []string{"m1", "m3"},
		},
		{
			name:    "nonbinary pairs with nonbinary",
			queued:  []*Waiter{wt("n1", Nonbinary, sF, 1), wt("n2", Nonbinary, sN, 2)},
			add:     wt("n3", Nonbinary, sN, 10),
			want:    "n2",
			waiting: []string{"n1"},
		},
		{
			name:    "nonbinary not sought by the man",
			queued:  []*Waiter{wt("m", Male, sF, 1)},
			add:     wt("n", Nonbinary, sM, 10),
			waiting: []string{"m", "n"},
		},
		{
			name:    "multi-gender seeking takes the oldest of any gender",
			queued:  []*Waiter{wt("f", Female, sN, 3), wt("m", Male, sAll, 2), wt("n", Nonbinary, sN, 4)},
			add:     wt("x", Nonbinary, sAll, 10),
			want:    "m",
			waiting: []string{"f", "n"},
		},
		{
			name:    "same user again is not paired or duplicated",
			queued:  []*Waiter{wt("m", Male, sM, 1)},
			add:     wt("m", Male, sM, 10),
			waiting: []string{"m"},
		},
		{
			name:    "invalid waiter is not queued",
			queued:  []*Waiter{wt("m", Male, sF, 1)},
			add:     wt("x", 0, sM, 10),
			waiting: []string{"m"},
		},
		{
			name:    "re-announced old waiter goes back to its old place",
			queued:  []*Waiter{wt("m1", Male, sF, 1), wt("m3", Male, sF, 3)},
			add:     wt("m2", Male, sF, 2),
			waiting: []string{"m1", "m2", "m3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue()
			for _, w := range tt.queued {
				if p := q.Add(w); p != nil {
					t.Fatalf("setup: %s paired with %s", w.UserID, p.UserID)
				}
			}
			got := ""
			if p := q.Add(tt.add); p != nil {
				got = p.UserID
			}
			if got != tt.want {
				t.Errorf("Add(%s) paired with %q, want %q", tt.add.UserID, got, tt.want)
			}
			if ids := queuedIDs(q); !slices.Equal(ids, tt.waiting) {
				t.Errorf("queued = %v, want %v", ids, tt.waiting)
			}
			if q.Len() != len(tt.waiting) {
				t.Errorf("Len() = %d, want %d", q.Len(), len(tt.waiting))
			}
		})
	}
}

// queuedIDs lists the queue's user ids oldest first, through Each.
func queuedIDs(q *Queue) []string {
	var ids []string
	q.Each(func(w *Waiter, _ int) bool {
		ids = append(ids, w.UserID)
		return true
	})
	return ids
}

func TestQueueAddDuplicateKeepsOriginal(t *testing.T) {
	q := NewQueue()
	orig := wt("m", Male, sF, 1)
	q.Add(orig)
	if p := q.Add(wt("m", Male, sF, 5)); p != nil {
		t.Fatalf("paired with %s", p.UserID)
	}
	if got, _ := q.Get("m"); got != orig {
		t.Fatal("the re-announce replaced the queued waiter")
	}
}

func TestQueueRemove(t *testing.T) {
	tests := []struct {
		name    string
		remove  string
		ok      bool
		waiting []string
		counts  map[Gender]int
	}{
		{"head", "m1", true, []string{"w1", "m2", "n1"}, map[Gender]int{Male: 1, Female: 1, Nonbinary: 1}},
		{"middle", "m2", true, []string{"m1", "w1", "n1"}, map[Gender]int{Male: 1, Female: 1, Nonbinary: 1}},
		{"tail", "n1", true, []string{"m1", "w1", "m2"}, map[Gender]int{Male: 2, Female: 1, Nonbinary: 0}},
		{"unknown", "zz", false, []string{"m1", "w1", "m2", "n1"}, map[Gender]int{Male: 2, Female: 1, Nonbinary: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue()
			for _, w := range []*Waiter{wt("m1", Male, sM, 1), wt("w1", Female, sF, 2), wt("m2", Male, sM, 3, "m1"), wt("n1", Nonbinary, sN, 4)} {
				q.Add(w)
			}
			w, ok := q.Remove(tt.remove)
			if ok != tt.ok || (ok && w.UserID != tt.remove) {
				t.Fatalf("Remove(%q) = %v, %v", tt.remove, w, ok)
			}
			if _, still := q.Get(tt.remove); still {
				t.Error("still queued after Remove")
			}
			if ids := queuedIDs(q); !slices.Equal(ids, tt.waiting) {
				t.Errorf("queued = %v, want %v", ids, tt.waiting)
			}
			if got := q.Waiting(); !mapsEqual(got, tt.counts) {
				t.Errorf("Waiting() = %v, want %v", got, tt.counts)
			}
			if _, again := q.Remove(tt.remove); again {
				t.Error("second Remove succeeded")
			}
		})
	}
}

func mapsEqual(a, b map[Gender]int) bool {
	for _, g := range Genders {
		if a[g] != b[g] {
			return false
		}
	}
	return len(a) == numGenders
}

func TestQueueRemovedNodeIsReused(t *testing.T) {
	q := NewQueue()
	q.Add(wt("m1", Male, sF, 1))
	q.Remove("m1")
	q.Add(wt("m2", Male, sF, 2))
	q.Add(wt("m3", Male, sF, 3))
	if p := q.Add(wt("w", Female, sM, 4)); p == nil || p.UserID != "m2" {
		t.Fatalf("paired with %v, want m2", p)
	}
	if ids := queuedIDs(q); !slices.Equal(ids, []string{"m3"}) {
		t.Fatalf("queued = %v", ids)
	}
}

func TestQueuePosition(t *testing.T) {
	q := NewQueue()
	for _, w := range []*Waiter{
		wt("m1", Male, sF, 1),
		wt("m2", Male, sM, 2),                       // seeks men: does not compete with m1
		wt("w1", Female, sF, 3),                     // other gender
		wt("m3", Male, SetOf(Female, Nonbinary), 4), // overlaps m1 on women
		wt("m4", Male, SetOf(Female, Nonbinary), 5), // overlaps m1 and m3, not m2
		wt("m5", Male, sN, 6),                       // overlaps m3 and m4
		wt("n1", Nonbinary, sN, 0, "n2"),
		wt("n2", Nonbinary, sN, 7, "n1"), // cooldown with n1: both queued
	} {
		if p := q.Add(w); p != nil {
			t.Fatalf("setup: %s paired with %s", w.UserID, p.UserID)
		}
	}
	want := map[string]int{"m1": 1, "m2": 1, "w1": 1, "m3": 2, "m4": 3, "m5": 3, "n1": 1, "n2": 2, "nobody": 0}
	for id, pos := range want {
		t.Run(id, func(t *testing.T) {
			if got := q.Position(id); got != pos {
				t.Errorf("Position(%s) = %d, want %d", id, got, pos)
			}
		})
	}
	t.Run("Each agrees with Position, oldest first", func(t *testing.T) {
		var ids []string
		q.Each(func(w *Waiter, p int) bool {
			ids = append(ids, w.UserID)
			if p != want[w.UserID] {
				t.Errorf("Each: %s at %d, want %d", w.UserID, p, want[w.UserID])
			}
			return true
		})
		if order := []string{"n1", "m1", "m2", "w1", "m3", "m4", "m5", "n2"}; !slices.Equal(ids, order) {
			t.Errorf("Each order = %v, want %v", ids, order)
		}
	})
	t.Run("Each stops", func(t *testing.T) {
		n := 0
		q.Each(func(*Waiter, int) bool { n++; return n < 3 })
		if n != 3 {
			t.Errorf("visited %d, want 3", n)
		}
	})
}

// TestQueueMatchesReference drives the queue and a naive O(n) reference with
// a deterministic mix of arrivals, cooldowns and departures, and checks they
// agree on every pairing and position.
func TestQueueMatchesReference(t *testing.T) {
	q := NewQueue()
	var ref []*Waiter // oldest first (insertion order among equal times)
	rng := uint64(42)
	next := func(n int) int {
		rng = rng*6364136223846793005 + 1442695040888963407
		return int(rng>>33) % n
	}
	for i := range 3000 {
		id := fmt.Sprintf("u%d", i)
		var recent []string
		if len(ref) > 0 && next(3) == 0 {
			recent = append(recent, ref[next(len(ref))].UserID)
		}
		w := wt(id, Genders[next(3)], GenderSet(1+next(7)), next(50)+i/2, recent...)
		if next(4) == 0 {
			w.Gender = Male
			w.Seeking = sF
		}
		// Reference: oldest compatible.
		best := -1
		for j, o := range ref {
			if Compatible(w, o) && (best < 0 || o.EnqueuedAt.Before(ref[best].EnqueuedAt)) {
				best = j
			}
		}
		got := q.Add(w)
		switch {
		case best < 0 && got != nil:
			t.Fatalf("step %d: paired with %s, reference found none", i, got.UserID)
		case best >= 0 && (got == nil || got != ref[best]):
			t.Fatalf("step %d: paired with %v, want %s", i, got, ref[best].UserID)
		case best >= 0:
			ref = slices.Delete(ref, best, best+1)
		default:
			at := len(ref)
			for at > 0 && w.EnqueuedAt.Before(ref[at-1].EnqueuedAt) {
				at--
			}
			ref = slices.Insert(ref, at, w)
		}
		if len(ref) > 0 && next(5) == 0 {
			j := next(len(ref))
			if _, ok := q.Remove(ref[j].UserID); !ok {
				t.Fatalf("step %d: Remove(%s) failed", i, ref[j].UserID)
			}
			ref = slices.Delete(ref, j, j+1)
		}
		if i%100 == 0 {
			checkAgainst(t, q, ref)
		}
	}
	checkAgainst(t, q, ref)
}

func checkAgainst(t *testing.T, q *Queue, ref []*Waiter) {
	t.Helper()
	if q.Len() != len(ref) {
		t.Fatalf("Len() = %d, want %d", q.Len(), len(ref))
	}
	i := 0
	q.Each(func(w *Waiter, pos int) bool {
		if w != ref[i] {
			t.Fatalf("Each[%d] = %s, want %s", i, w.UserID, ref[i].UserID)
		}
		want := 1
		for _, o := range ref[:i] {
			if o.Gender == w.Gender && o.Seeking&w.Seeking != 0 {
				want++
			}
		}
		if pos != want || q.Position(w.UserID) != want {
			t.Fatalf("%s: Each position %d, Position %d, want %d", w.UserID, pos, q.Position(w.UserID), want)
		}
		i++
		return true
	})
}

func TestQueueSteadyStateAllocations(t *testing.T) {
	q, at := imbalancedPool(t, 1000)
	woman := &Waiter{UserID: "w", Gender: Female, Seeking: sM}
	allocs := testing.AllocsPerRun(1000, func() {
		woman.EnqueuedAt = at
		p := q.Add(woman)
		at = at.Add(time.Millisecond)
		p.EnqueuedAt = at
		q.Add(p)
	})
	if allocs != 0 {
		t.Errorf("pair step allocates %v times", allocs)
	}
}

// TestQueueHeldIsNeverPicked: a place rebuilt from the store and not yet
// confirmed counts for positions but is never a partner; once confirmed
// (removed and added again) it pairs with the oldest compatible waiter.
func TestQueueHeldIsNeverPicked(t *testing.T) {
	q := NewQueue()
	held := wt("ann", Female, sM, 1)
	held.Held = true
	if !q.Insert(held) {
		t.Fatal("Insert refused a held place")
	}
	if p := q.Add(wt("bob", Male, sF, 5)); p != nil {
		t.Fatalf("the newcomer was paired with the held %s", p.UserID)
	}
	if q.Position("bob") != 1 || q.Waiting()[Female] != 1 {
		t.Fatalf("held place not counted: bob at %d, women %d", q.Position("bob"), q.Waiting()[Female])
	}
	q.Remove("ann")
	if p := q.Add(wt("ann", Female, sM, 1)); p == nil || p.UserID != "bob" {
		t.Fatalf("the confirmed place paired with %v, want bob", p)
	}
}

func TestQueueOldest(t *testing.T) {
	q := NewQueue()
	// Men in three buckets (by whom they seek); the oldest is not the
	// head of the first bucket. Insert: nobody is paired.
	q.Insert(wt("m-f", Male, sF, 30))
	q.Insert(wt("m-m", Male, sM, 10))
	q.Insert(wt("m-n", Male, sN, 20))
	q.Insert(wt("n-m", Nonbinary, sM, 40))
	tests := []struct {
		g    Gender
		ok   bool
		want int // seconds after t0
	}{
		{Male, true, 10},
		{Nonbinary, true, 40},
		{Female, false, 0},
	}
	for _, tt := range tests {
		at, ok := q.Oldest(tt.g)
		if ok != tt.ok || (ok && !at.Equal(t0.Add(time.Duration(tt.want)*time.Second))) {
			t.Errorf("Oldest(%v) = %v, %v; want t0+%ds, %v", tt.g, at, ok, tt.want, tt.ok)
		}
	}
	q.Remove("m-m")
	if at, _ := q.Oldest(Male); !at.Equal(t0.Add(20 * time.Second)) {
		t.Errorf("after the oldest man left: Oldest(male) = %v; want t0+20s", at)
	}
}
