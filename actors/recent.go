package actors

import (
	"slices"
	"strings"
	"time"
	"unique"
)

// recentSet is a session's partners within the rematch cooldown, sorted
// by id: the interned ids (8 bytes each, one copy a user for every session
// that met them) and, beside them, when each was met in whole seconds
// after base, rounded up (4 bytes: a partner is kept up to a second
// longer, never shorter). Under the default 24 h cooldown a user of the
// long load run meets one more partner every four seconds, 150 in ten
// minutes, so this is the one piece of a session that grows for the whole
// run: about 14 bytes a partner with the spare room; a slice of id and
// Unix nanoseconds pairs cost about 20, a map about 73. Kept sorted so
// that every spin's sorted copy for the pool (sorted) costs a pass, not a
// sort of strings (which grew with the set to a fifth of the session's
// CPU by the tenth minute of that run).
type recentSet struct {
	ids  []unique.Handle[string]
	at   []int32 // seconds after base, rounded up; len(at) == len(ids)
	base int64   // Unix seconds; set at the first add
}

func (r *recentSet) len() int { return len(r.ids) }

// add records id, met at t: O(log n) comparisons and a move of the
// entries after it. An id already held keeps the later time.
func (r *recentSet) add(id string, t time.Time) {
	if len(r.ids) == 0 && r.ids == nil {
		r.base = t.Unix()
	}
	at := r.offset(t)
	i, found := slices.BinarySearchFunc(r.ids, id, func(h unique.Handle[string], id string) int {
		return strings.Compare(h.Value(), id)
	})
	if found {
		r.at[i] = max(r.at[i], at)
		return
	}
	if len(r.ids) == cap(r.ids) && len(r.ids) >= 16 {
		// Grow by a quarter, not append's doubling: the set grows by one a
		// match for a whole cooldown, and its spare room is memory of
		// every active user.
		n := len(r.ids) + len(r.ids)/4
		r.ids = append(make([]unique.Handle[string], 0, n), r.ids...)
		r.at = append(make([]int32, 0, n), r.at...)
	}
	r.ids = slices.Insert(r.ids, i, unique.Make(id))
	r.at = slices.Insert(r.at, i, at)
}

// offset returns t in seconds after base, rounded up and clamped to int32.
func (r *recentSet) offset(t time.Time) int32 {
	d := t.Sub(time.Unix(r.base, 0))
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return int32(min(max(s, -1<<31), 1<<31-1))
}

// met returns when entry i was met (rounded up to the second).
func (r *recentSet) met(i int) time.Time { return time.Unix(r.base+int64(r.at[i]), 0) }

// prune drops the partners met more than cd before now (all of them when
// cd is not positive), and gives back the memory of a set that shrank to a
// quarter.
func (r *recentSet) prune(now time.Time, cd time.Duration) {
	n := 0
	for i := range r.ids {
		if cd > 0 && now.Sub(r.met(i)) <= cd {
			r.ids[n], r.at[n] = r.ids[i], r.at[i]
			n++
		}
	}
	clear(r.ids[n:]) // the handles keep their strings alive
	switch {
	case n == 0:
		*r = recentSet{}
	case cap(r.ids) > 64 && n < cap(r.ids)/4:
		r.ids, r.at = slices.Clone(r.ids[:n]), slices.Clone(r.at[:n])
	default:
		r.ids, r.at = r.ids[:n], r.at[:n]
	}
}

// sorted returns the ids, sorted, in a fresh slice (nil when empty).
func (r *recentSet) sorted() []string {
	if len(r.ids) == 0 {
		return nil
	}
	out := make([]string, len(r.ids))
	for i, h := range r.ids {
		out[i] = h.Value()
	}
	return out
}

// each calls f with every id.
func (r *recentSet) each(f func(id string)) {
	for _, h := range r.ids {
		f(h.Value())
	}
}
