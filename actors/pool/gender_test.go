package pool

import (
	"slices"
	"testing"
)

func TestParseGender(t *testing.T) {
	tests := []struct {
		in     string
		want   Gender
		ok     bool
		plural string
	}{
		{"male", Male, true, "men"},
		{"female", Female, true, "women"},
		{"nonbinary", Nonbinary, true, "nonbinary people"},
		{"Male", 0, false, "people"},
		{"", 0, false, "people"},
		{"other", 0, false, "people"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			g, ok := ParseGender(tt.in)
			if g != tt.want || ok != tt.ok {
				t.Fatalf("ParseGender(%q) = %v, %v; want %v, %v", tt.in, g, ok, tt.want, tt.ok)
			}
			if ok && g.String() != tt.in {
				t.Errorf("String() = %q, want %q", g.String(), tt.in)
			}
			if g.Plural() != tt.plural {
				t.Errorf("Plural() = %q, want %q", g.Plural(), tt.plural)
			}
		})
	}
}

func TestParseSeeking(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
		ok   bool
	}{
		{"one", []string{"female"}, []string{"female"}, true},
		{"two in any order", []string{"nonbinary", "male"}, []string{"male", "nonbinary"}, true},
		{"all", []string{"male", "female", "nonbinary"}, []string{"male", "female", "nonbinary"}, true},
		{"duplicates", []string{"male", "male"}, []string{"male"}, true},
		{"empty", nil, nil, false},
		{"invalid among valid", []string{"male", "robot"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := ParseSeeking(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if got := s.Strings(); !slices.Equal(got, tt.want) {
				t.Errorf("Strings() = %v, want %v", got, tt.want)
			}
			for _, g := range Genders {
				if s.Has(g) != slices.Contains(tt.want, g.String()) {
					t.Errorf("Has(%v) = %v", g, s.Has(g))
				}
			}
		})
	}
}

func TestGenderSetHasInvalid(t *testing.T) {
	if allGenders.Has(0) || allGenders.Has(4) {
		t.Fatal("Has accepts an invalid gender")
	}
}
