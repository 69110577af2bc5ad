package pool

import (
	"slices"
	"testing"
)

// TestPartnersOf: sorted ids are kept as they come (no copy: the set a
// session sends with every enqueue costs the pool nothing more), others
// are copied and sorted without touching the caller's slice; Has finds
// exactly the members.
func TestPartnersOf(t *testing.T) {
	sorted := []string{"a", "b", "d"}
	p := PartnersOf(sorted)
	if len(p) != 3 || &p[0] != &sorted[0] {
		t.Fatal("sorted ids were copied")
	}
	unsorted := []string{"d", "a", "b"}
	q := PartnersOf(unsorted)
	if &q[0] == &unsorted[0] || !slices.Equal(unsorted, []string{"d", "a", "b"}) || !slices.IsSorted(q) {
		t.Fatalf("unsorted ids: %v (caller's now %v)", q, unsorted)
	}
	for _, s := range []Partners{p, q} {
		for id, want := range map[string]bool{"a": true, "b": true, "d": true, "c": false, "": false, "e": false} {
			if s.Has(id) != want {
				t.Fatalf("%v.Has(%q) = %v", s, id, !want)
			}
		}
	}
	if PartnersOf(nil) != nil || Partners(nil).Has("a") {
		t.Fatal("an empty set")
	}
	a := &Waiter{UserID: "a", Gender: Male, Seeking: sF, Recent: PartnersOf([]string{"b"})}
	b := &Waiter{UserID: "b", Gender: Female, Seeking: sM}
	c := &Waiter{UserID: "c", Gender: Female, Seeking: sM}
	if Compatible(a, b) || Compatible(b, a) || !Compatible(a, c) {
		t.Fatal("Compatible ignores the cooldown")
	}
}
