package pool

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// walkPosition is Position the slow way: 1 + the older competitors, found
// by walking every competing bucket from its head.
func walkPosition(q *Queue, userID string) int {
	n, ok := q.byID[userID]
	if !ok {
		return 0
	}
	pos := 1
	for set := competitorClasses[n.class]; ; {
		c, ok := set.next()
		if !ok {
			return pos
		}
		for o := q.buckets[c].head; o != nil && o.before(n); o = o.next {
			pos++
		}
	}
}

// TestPositionTreeMatchesWalk checks the order-statistics positions
// against a walk of the buckets, through random joins (with old enqueue
// times too, as re-announced places have), ties, pairings and leaves.
func TestPositionTreeMatchesWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := NewQueue()
	var ids []string
	for step := range 20_000 {
		switch r := rng.IntN(10); {
		case r < 6 || len(ids) == 0:
			g := Genders[rng.IntN(len(Genders))]
			s := GenderSet(1 + rng.IntN(int(allGenders)))
			at := t0.Add(time.Duration(step) * time.Millisecond)
			if rng.IntN(5) == 0 {
				at = t0.Add(time.Duration(rng.IntN(step+1)) * time.Millisecond) // an old place, or a tie
			}
			w := &Waiter{UserID: "u" + strconv.Itoa(step), Gender: g, Seeking: s, EnqueuedAt: at}
			if rng.IntN(3) == 0 {
				q.Add(w) // may pair
			} else {
				q.Insert(w)
			}
			if _, ok := q.Get(w.UserID); ok {
				ids = append(ids, w.UserID)
			}
		default:
			i := rng.IntN(len(ids))
			q.Remove(ids[i])
			ids[i] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
		}
		if step%97 == 0 {
			for _, id := range ids {
				if _, ok := q.Get(id); !ok {
					continue // paired away
				}
				if got, want := q.Position(id), walkPosition(q, id); got != want {
					t.Fatalf("step %d: Position(%s) = %d, the walk says %d", step, id, got, want)
				}
			}
		}
	}
	for c := range q.buckets {
		if b := &q.buckets[c]; b.root.sz() != b.n {
			t.Fatalf("class %d: tree holds %d, list %d", c, b.root.sz(), b.n)
		}
	}
}
