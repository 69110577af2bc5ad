package pool

import "strings"

// Gender is a user's gender as the protocol spells it; the zero value is invalid.
type Gender uint8

// The genders of the protocol.
const (
	Male Gender = iota + 1
	Female
	Nonbinary
)

// numGenders is the number of valid genders; valid values are 1..numGenders.
const numGenders = 3

// Genders lists every valid gender in protocol order.
var Genders = [...]Gender{Male, Female, Nonbinary}

// ParseGender parses "male", "female" or "nonbinary".
func ParseGender(s string) (Gender, bool) {
	switch s {
	case "male":
		return Male, true
	case "female":
		return Female, true
	case "nonbinary":
		return Nonbinary, true
	}
	return 0, false
}

// Valid reports whether g is one of Genders.
func (g Gender) Valid() bool { return g >= Male && g <= Nonbinary }

// String returns the protocol name of g ("male", "female", "nonbinary"), or "" when invalid.
func (g Gender) String() string {
	switch g {
	case Male:
		return "male"
	case Female:
		return "female"
	case Nonbinary:
		return "nonbinary"
	}
	return ""
}

// Plural names a group of people of gender g for readable sentences ("men").
func (g Gender) Plural() string {
	switch g {
	case Male:
		return "men"
	case Female:
		return "women"
	case Nonbinary:
		return "nonbinary people"
	}
	return "people"
}

// Singular names one person of gender g for readable sentences ("woman").
func (g Gender) Singular() string {
	switch g {
	case Male:
		return "man"
	case Female:
		return "woman"
	case Nonbinary:
		return "nonbinary person"
	}
	return "person"
}

// GenderSet is a set of genders, one bit per gender (bit g-1).
type GenderSet uint8

// allGenders is the set of every valid gender.
const allGenders GenderSet = 1<<numGenders - 1

// SetOf returns the set holding gs; invalid genders are ignored.
func SetOf(gs ...Gender) GenderSet {
	var s GenderSet
	for _, g := range gs {
		if g.Valid() {
			s |= 1 << (g - 1)
		}
	}
	return s
}

// ParseSeeking parses a protocol "seeking" list: non-empty, each a valid
// gender name; duplicates are allowed.
func ParseSeeking(ss []string) (GenderSet, bool) {
	if len(ss) == 0 {
		return 0, false
	}
	var s GenderSet
	for _, name := range ss {
		g, ok := ParseGender(name)
		if !ok {
			return 0, false
		}
		s |= SetOf(g)
	}
	return s, true
}

// Has reports whether g is in s.
func (s GenderSet) Has(g Gender) bool { return g.Valid() && s&(1<<(g-1)) != 0 }

// Valid reports whether s is non-empty and holds only valid genders.
func (s GenderSet) Valid() bool { return s != 0 && s&^allGenders == 0 }

// Strings returns the protocol names of the genders in s, in protocol order.
func (s GenderSet) Strings() []string {
	out := make([]string, 0, numGenders)
	for _, g := range Genders {
		if s.Has(g) {
			out = append(out, g.String())
		}
	}
	return out
}

// String returns the names of s joined by "+", for logs and test names.
func (s GenderSet) String() string { return strings.Join(s.Strings(), "+") }
