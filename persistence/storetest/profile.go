package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

func testPing(t *testing.T, f *fixture) {
	if err := f.store.Ping(f.ctx()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testProfileRoundTrip(t *testing.T, f *fixture) {
	cases := []struct {
		name string
		p    persistence.Profile
	}{
		{"one seeking", persistence.Profile{DisplayName: "Ada", Gender: "female", Seeking: []string{"male"}, Pool: "default"}},
		{"many seeking", persistence.Profile{DisplayName: "Bo", Gender: "nonbinary", Seeking: []string{"female", "male", "nonbinary"}, Pool: "berlin"}},
		{"unicode name", persistence.Profile{DisplayName: "Zoë 🌀 O'Neil", Gender: "male", Seeking: []string{"female"}, Pool: "default"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.p
			want.UserID = f.id("user-" + tc.name)
			want.UpdatedAt = baseTime().Add(time.Duration(i) * time.Hour)
			if err := f.store.PutProfile(f.ctx(), want); err != nil {
				t.Fatalf("PutProfile: %v", err)
			}
			got, err := f.store.Profile(f.ctx(), want.UserID)
			if err != nil {
				t.Fatalf("Profile: %v", err)
			}
			assertProfile(t, got, want)
		})
	}
}

func testProfileReplace(t *testing.T, f *fixture) {
	first := persistence.Profile{UserID: f.id("u"), DisplayName: "First", Gender: "female", Seeking: []string{"male", "female"}, Pool: "default", UpdatedAt: baseTime()}
	second := persistence.Profile{UserID: f.id("u"), DisplayName: "Second", Gender: "nonbinary", Seeking: []string{"nonbinary"}, Pool: "paris", UpdatedAt: baseTime().Add(time.Minute)}
	for _, p := range []persistence.Profile{first, second} {
		if err := f.store.PutProfile(f.ctx(), p); err != nil {
			t.Fatalf("PutProfile(%s): %v", p.DisplayName, err)
		}
	}
	got, err := f.store.Profile(f.ctx(), first.UserID)
	if err != nil {
		t.Fatalf("Profile: %v", err)
	}
	assertProfile(t, got, second)
}

func testProfileNotFound(t *testing.T, f *fixture) {
	_, err := f.store.Profile(f.ctx(), f.id("nobody"))
	if !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("Profile(unknown) error = %v, want ErrNotFound", err)
	}
}

// assertProfile fails the test unless got equals want field by field, with
// times compared as instants.
func assertProfile(t *testing.T, got, want persistence.Profile) {
	t.Helper()
	if got.UserID != want.UserID || got.DisplayName != want.DisplayName || got.Gender != want.Gender ||
		got.Pool != want.Pool || !slices.Equal(got.Seeking, want.Seeking) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("profile = %+v, want %+v", got, want)
	}
}
