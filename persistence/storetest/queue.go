package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

func testQueueEntryRoundTrip(t *testing.T, f *fixture) {
	cases := []struct {
		name string
		e    persistence.QueueEntry
	}{
		{"one seeking", persistence.QueueEntry{DisplayName: "Ada", Gender: "female", Seeking: []string{"male"}, EnqueuedAt: msTime(0)}},
		{"many seeking", persistence.QueueEntry{DisplayName: "Bo", Gender: "nonbinary", Seeking: []string{"female", "male", "nonbinary"}, EnqueuedAt: msTime(time.Hour)}},
		{"unicode name", persistence.QueueEntry{DisplayName: "Zoë 🌀 O'Neil", Gender: "male", Seeking: []string{"female"}, EnqueuedAt: msTime(-time.Hour)}},
		{"no seeking", persistence.QueueEntry{DisplayName: "Cy", Gender: "male", EnqueuedAt: msTime(time.Second)}},
		{"microsecond enqueue time", persistence.QueueEntry{DisplayName: "Di", Gender: "female", Seeking: []string{"female"}, EnqueuedAt: baseTime()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.e
			want.UserID = f.id("user-" + tc.name)
			want.Pool = f.id("pool")
			f.mustPut(want)
			got, err := f.store.QueueEntry(f.ctx(), want.UserID)
			if err != nil {
				t.Fatalf("QueueEntry: %v", err)
			}
			assertQueueEntry(t, got, want)
		})
	}
}

func testQueueEntryReplace(t *testing.T, f *fixture) {
	first := f.queueEntry("u", "first", msTime(0))
	second := persistence.QueueEntry{UserID: first.UserID, Pool: f.id("second"), DisplayName: "Second", Gender: "male",
		Seeking: []string{"male"}, EnqueuedAt: msTime(time.Minute)}
	f.mustPut(first, second)
	got, err := f.store.QueueEntry(f.ctx(), first.UserID)
	if err != nil {
		t.Fatalf("QueueEntry: %v", err)
	}
	assertQueueEntry(t, got, second)
	assertQueue(t, f, first.Pool)
	assertQueue(t, f, second.Pool, second)
}

func testQueueEntryNotFound(t *testing.T, f *fixture) {
	if _, err := f.store.QueueEntry(f.ctx(), f.id("nobody")); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("QueueEntry(unknown) error = %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteQueueEntry(f.ctx(), f.id("nobody"), msTime(0)); err != nil {
		t.Fatalf("DeleteQueueEntry(unknown) = %v, want nil", err)
	}
	assertQueue(t, f, f.id("empty"))
}

func testDeleteQueueEntry(t *testing.T, f *fixture) {
	stored := baseTime() // microsecond precision, as the store may keep it
	cases := []struct {
		name    string
		at      time.Time
		deleted bool
	}{
		{"same instant", stored, true},
		{"rebuilt from unix milliseconds", time.UnixMilli(stored.UnixMilli()), true},
		{"same millisecond, other microseconds", stored.Add(400 * time.Microsecond), true},
		{"same instant in another zone", stored.In(time.FixedZone("IST", 5*3600+1800)), true},
		{"one millisecond later", stored.Add(time.Millisecond), false},
		{"one millisecond earlier", stored.Add(-time.Millisecond), false},
		{"zero time", time.Time{}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := f.sub(t, string(rune('a'+i)))
			e := f.queueEntry("u", "pool", stored)
			f.mustPut(e)
			if err := f.store.DeleteQueueEntry(f.ctx(), e.UserID, tc.at); err != nil {
				t.Fatalf("DeleteQueueEntry: %v", err)
			}
			_, err := f.store.QueueEntry(f.ctx(), e.UserID)
			switch {
			case tc.deleted && !errors.Is(err, persistence.ErrNotFound):
				t.Fatalf("QueueEntry after delete = %v, want ErrNotFound", err)
			case !tc.deleted && err != nil:
				t.Fatalf("QueueEntry after delete with another time = %v, want the entry kept", err)
			}
			// A second delete of a missing entry is fine.
			if err := f.store.DeleteQueueEntry(f.ctx(), e.UserID, tc.at); err != nil {
				t.Fatalf("DeleteQueueEntry again: %v", err)
			}
		})
	}
}

func testQueueEntries(t *testing.T, f *fixture) {
	t0 := msTime(0)
	// "busy" is the oldest in the pool but in a match without a result.
	busyMatch := f.match("m", "busy", "partner", baseTime())
	f.mustCreate(busyMatch)
	var (
		busy = f.queueEntry("busy", "pool", t0.Add(-3*time.Second))
		c    = f.queueEntry("c", "pool", t0.Add(-time.Second))
		a    = f.queueEntry("a", "pool", t0)
		b    = f.queueEntry("b", "pool", t0)
		bUp  = f.queueEntry("B", "pool", t0) // byte order: "B" < "a" < "b"
		d    = f.queueEntry("d", "pool", t0.Add(time.Millisecond))
		x    = f.queueEntry("x", "other", t0.Add(-2*time.Second))
	)
	f.mustPut(d, b, x, a, busy, c, bUp)
	deadline := busyMatch.VoteDeadline
	cases := []struct {
		name  string
		pool  string
		since time.Time
		want  []persistence.QueueEntry
	}{
		{"oldest first, ties by user id, busy left out", f.id("pool"), baseTime(), []persistence.QueueEntry{c, bUp, a, b, d}},
		{"long before the vote deadline", f.id("pool"), time.Time{}, []persistence.QueueEntry{c, bUp, a, b, d}},
		{"just before the vote deadline", f.id("pool"), deadline.Add(-time.Microsecond), []persistence.QueueEntry{c, bUp, a, b, d}},
		// A claim past its match's vote deadline no longer hides the user.
		{"at the vote deadline: busy listed again", f.id("pool"), deadline, []persistence.QueueEntry{busy, c, bUp, a, b, d}},
		{"after the vote deadline: busy listed again", f.id("pool"), deadline.Add(time.Minute), []persistence.QueueEntry{busy, c, bUp, a, b, d}},
		{"other pool", f.id("other"), baseTime(), []persistence.QueueEntry{x}},
		{"unknown pool", f.id("nope"), baseTime(), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertQueueSince(t, f, tc.pool, tc.since, tc.want...)
		})
	}
	t.Run("listed again after the result", func(t *testing.T) {
		// Listing busy past the deadline settled nothing: the claim and
		// the match without a result are still there.
		assertActive(t, f, "busy", time.Time{}, busyMatch)
		f.mustResult(busyMatch.ID, persistence.ResultNoMatch)
		assertQueue(t, f, f.id("pool"), busy, c, bUp, a, b, d)
		assertQueueSince(t, f, f.id("pool"), time.Time{}, busy, c, bUp, a, b, d)
	})
}

func testStaleClaimListed(t *testing.T, f *fixture) {
	t0 := baseTime()
	// "stale" was matched and then nobody settled the match; "live" is in
	// a match whose vote deadline has not passed.
	stale := f.matchUntil("m1", "stale", "p1", t0.Add(-10*time.Minute), t0.Add(-time.Minute))
	live := f.matchUntil("m2", "live", "p2", t0.Add(-time.Minute), t0.Add(3*time.Minute))
	f.mustCreate(stale)
	f.mustCreate(live)
	qs := f.queueEntry("stale", "pool", msTime(time.Second))
	ql := f.queueEntry("live", "pool", msTime(0))
	f.mustPut(qs, ql)
	assertQueueSince(t, f, f.id("pool"), t0, qs)
	assertQueueSince(t, f, f.id("pool"), time.Time{})
	assertQueueSince(t, f, f.id("pool"), live.VoteDeadline, ql, qs)
	// The listed user can be matched: the stale match is settled then.
	f.mustCreate(f.match("m3", "stale", "other", t0))
	assertResult(t, f, stale.ID, persistence.ResultNoMatch)
	assertQueueSince(t, f, f.id("pool"), live.VoteDeadline, ql)
}

func testCreateMatchDeletesQueueEntries(t *testing.T, f *fixture) {
	a := f.queueEntry("a", "pool", msTime(0))
	b := f.queueEntry("b", "elsewhere", msTime(5*time.Millisecond))
	c := f.queueEntry("c", "pool", msTime(time.Millisecond))
	f.mustPut(a, b, c)
	m := f.match("m", "a", "b", baseTime())
	f.mustCreate(m)
	for _, e := range []persistence.QueueEntry{a, b} {
		if _, err := f.store.QueueEntry(f.ctx(), e.UserID); !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("QueueEntry(%s) after CreateMatch = %v, want ErrNotFound", e.UserID, err)
		}
	}
	assertQueue(t, f, f.id("pool"), c)

	// Creating the same match again is a no-op: it leaves a place taken
	// after the match was settled alone.
	f.mustResult(m.ID, persistence.ResultNoMatch)
	again := f.queueEntry("a", "pool", msTime(time.Minute))
	f.mustPut(again)
	f.mustCreate(m)
	got, err := f.store.QueueEntry(f.ctx(), again.UserID)
	if err != nil {
		t.Fatalf("QueueEntry after creating the match again: %v", err)
	}
	assertQueueEntry(t, got, again)
}

// assertQueue fails the test unless pool's queue entries since baseTime()
// are want, in order.
func assertQueue(t *testing.T, f *fixture, pool string, want ...persistence.QueueEntry) {
	t.Helper()
	assertQueueSince(t, f, pool, baseTime(), want...)
}

// assertQueueSince fails the test unless pool's queue entries since the
// given time are want, in order.
func assertQueueSince(t *testing.T, f *fixture, pool string, since time.Time, want ...persistence.QueueEntry) {
	t.Helper()
	got, err := f.store.QueueEntries(f.ctx(), pool, since)
	if err != nil {
		t.Fatalf("QueueEntries(%s, %v): %v", pool, since, err)
	}
	ids := func(list []persistence.QueueEntry) []string {
		var out []string
		for _, e := range list {
			out = append(out, e.UserID)
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("QueueEntries(%s, %v) = %v, want %v", pool, since, ids(got), ids(want))
	}
	for i := range got {
		assertQueueEntry(t, got[i], want[i])
	}
}

// assertQueueEntry fails the test unless got equals want field by field,
// with times compared as instants.
func assertQueueEntry(t *testing.T, got, want persistence.QueueEntry) {
	t.Helper()
	if got.UserID != want.UserID || got.Pool != want.Pool || got.DisplayName != want.DisplayName ||
		got.Gender != want.Gender || !slices.Equal(got.Seeking, want.Seeking) || !got.EnqueuedAt.Equal(want.EnqueuedAt) {
		t.Fatalf("queue entry = %+v, want %+v", got, want)
	}
}

// testCreateMatchNeedsThePlaces: a pairing that names the places it was
// made from is created only while both partners hold exactly those
// places; otherwise ErrConflict, and nothing is recorded.
func testCreateMatchNeedsThePlaces(t *testing.T, f *fixture) {
	a := f.queueEntry("a", "pool", msTime(0))
	b := f.queueEntry("b", "pool", msTime(5*time.Millisecond))
	f.mustPut(a) // b has no place (it left, or is in another match)
	m := f.match("m", "a", "b", baseTime())
	m.PlaceA, m.PlaceB = a.EnqueuedAt, b.EnqueuedAt
	if _, err := f.store.CreateMatch(f.ctx(), m); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("CreateMatch without b's place = %v, want ErrConflict", err)
	}
	if _, err := f.store.Votes(f.ctx(), m.ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("the refused match was recorded: Votes = %v", err)
	}
	stale := b
	stale.EnqueuedAt = msTime(time.Second) // a newer place, not the one paired
	f.mustPut(stale)
	if _, err := f.store.CreateMatch(f.ctx(), m); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("CreateMatch with another place of b = %v, want ErrConflict", err)
	}
	f.mustPut(b)
	f.mustCreate(m)
	assertActive(t, f, "a", baseTime(), m)
}
