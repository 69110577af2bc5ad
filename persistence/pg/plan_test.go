package pg

import (
	"fmt"
	"slices"
	"testing"

	"github.com/spinmatch/spinmatch/persistence"
)

// Writes for plan tests: only their kinds and keys matter.
func putW(user string) *write {
	return &write{op: "put " + user, kind: &queuePutKind, keys: keys{writes: []string{key("q", user)}}}
}

func delW(user string) *write {
	return &write{op: "del " + user, kind: &queueDeleteKind, keys: keys{writes: []string{key("q", user)}}}
}

func createW(id, a, b string) *write {
	return &write{op: "create " + id, kind: &createMatchKind, keys: createKeys(persistence.Match{ID: id,
		A: persistence.Participant{UserID: a}, B: persistence.Participant{UserID: b}})}
}

func voteW(id, voter string) *write {
	return &write{op: "vote " + id + " " + voter, kind: &voteKind,
		keys: keys{reads: []string{key("m", id)}, writes: []string{key("v", id, voter)}}}
}

func resultW(id string) *write {
	return &write{op: "result " + id, kind: &resultKind,
		keys: keys{reads: []string{key("m", id)}, writes: []string{key("r", id)}}}
}

func waitW(i int) *write { return &write{op: fmt.Sprint("wait ", i), kind: &waitSampleKind} }

// TestPlan: writes of one kind share a statement unless they conflict;
// of two conflicting writes the later runs in a later statement, whatever
// the kinds' ranks (a result's rank is before a pairing's, a delete's
// after a put's); every write is in exactly one statement.
func TestPlan(t *testing.T) {
	cases := []struct {
		name  string
		batch []*write
		// want: the statements, each the ops of its writes in batch order.
		want [][]string
	}{
		{"one kind shares", []*write{putW("a"), putW("b"), putW("c")},
			[][]string{{"put a", "put b", "put c"}}},
		{"kinds by rank", []*write{waitW(1), voteW("m1", "a"), putW("a"), waitW(2), createW("m2", "x", "y")},
			[][]string{{"put a"}, {"create m2"}, {"vote m1 a"}, {"wait 1", "wait 2"}}},
		{"same row twice: later statement", []*write{putW("a"), putW("b"), putW("a")},
			[][]string{{"put a", "put b"}, {"put a"}}},
		{"delete then put of one user stays in order", []*write{delW("a"), putW("a"), putW("b")},
			[][]string{{"put b"}, {"del a"}, {"put a"}}},
		{"result after its pairing", []*write{createW("m1", "a", "b"), resultW("m1"), resultW("m2")},
			[][]string{{"result m2"}, {"create m1"}, {"result m1"}}},
		{"votes of one match share, after its pairing", []*write{createW("m1", "a", "b"), voteW("m1", "a"), voteW("m1", "b"), voteW("m2", "a")},
			[][]string{{"create m1"}, {"vote m1 a", "vote m1 b", "vote m2 a"}}},
		{"pairings sharing a partner go apart", []*write{createW("m1", "a", "b"), createW("m2", "b", "c"), createW("m3", "d", "e")},
			[][]string{{"create m1", "create m3"}, {"create m2"}}},
		{"a pairing after a put of its partner", []*write{putW("a"), createW("m1", "a", "b"), delW("b")},
			[][]string{{"put a"}, {"create m1"}, {"del b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			units := plan(tc.batch)
			var got [][]string
			seen := map[*write]int{}
			for _, u := range units {
				var ops []string
				for _, w := range u.ws {
					if w.kind != u.kind {
						t.Errorf("%s in a %s statement", w.op, u.kind.name)
					}
					seen[w]++
					ops = append(ops, w.op)
				}
				got = append(got, ops)
			}
			for _, w := range tc.batch {
				if seen[w] != 1 {
					t.Errorf("%s is in %d statements, want 1", w.op, seen[w])
				}
			}
			if !slices.EqualFunc(got, tc.want, slices.Equal[[]string]) {
				t.Fatalf("plan = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKindRanks(t *testing.T) {
	for i, k := range allKinds {
		if k.rank != i {
			t.Errorf("kind %s has rank %d at %d", k.name, k.rank, i)
		}
	}
}

// BenchmarkPlan: planning a full batch of a load's mix of writes.
func BenchmarkPlan(b *testing.B) {
	ws := make([]*write, 0, defaultMaxBatch)
	for i := 0; len(ws) < defaultMaxBatch; i++ {
		id, u, v := fmt.Sprint("m", i), fmt.Sprint("u", 2*i), fmt.Sprint("u", 2*i+1)
		ws = append(ws, putW(u), createW(id, u, v), voteW(fmt.Sprint("m", i-1), u), resultW(fmt.Sprint("m", i-2)), waitW(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		plan(ws)
	}
}
