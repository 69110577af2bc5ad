package storetest

import (
	"testing"

	"github.com/spinmatch/spinmatch/persistence"
)

// testStats: the row counts move by exactly what was written (the suite's
// subtests run one at a time, so a shared store sees no other writes
// meanwhile), every small table is counted exactly, and the store names
// itself.
func testStats(t *testing.T, f *fixture) {
	before, err := f.store.Stats(f.ctx())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if before.Store != "postgres" && before.Store != "memory" {
		t.Errorf("Store = %q, want postgres or memory", before.Store)
	}
	if len(before.Estimated) != 0 {
		t.Errorf("Estimated = %v, want every small table counted exactly", before.Estimated)
	}
	if before.Connections == nil {
		t.Errorf("Connections is nil, want a (possibly empty) map")
	}
	p := persistence.Profile{UserID: f.id("stats"), DisplayName: "Stat", Gender: "male", Seeking: []string{"female"}, Pool: "default"}
	if err := f.store.PutProfile(f.ctx(), p); err != nil {
		t.Fatalf("PutProfile: %v", err)
	}
	f.mustPut(f.queueEntry(f.id("stats"), "default", baseTime()))
	for range 2 {
		if err := f.store.Audit(f.ctx(), persistence.AuditEntry{At: baseTime(), Actor: "system", Action: "stats"}); err != nil {
			t.Fatalf("Audit: %v", err)
		}
	}
	after, err := f.store.Stats(f.ctx())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	for table, d := range map[string]int64{"profiles": 1, "queue_entries": 1, "audit_log": 2, "matches": 0} {
		b, okB := before.Rows[table]
		a, okA := after.Rows[table]
		if !okB || !okA || a-b != d {
			t.Errorf("Rows[%s]: %d (listed %v) -> %d (listed %v), want +%d", table, b, okB, a, okA, d)
		}
	}
}
