package pool

import (
	"math/bits"
	"slices"
	"time"
)

// Waiter is one user waiting in a pool. Once passed to Queue.Add it belongs to
// the queue until Add, Remove or a later Add hands it back: callers must not
// change it meanwhile.
type Waiter struct {
	UserID      string
	DisplayName string
	Gender      Gender
	Seeking     GenderSet
	EnqueuedAt  time.Time
	// Recent holds the users this waiter must not be paired with now (the
	// rematch cooldown); may be nil.
	Recent Partners
	// Held marks a place that is queued (it counts for positions and
	// waiting) but may not be paired yet: a place rebuilt from the store
	// whose session has not confirmed it (the user may be in a match the
	// store is writing).
	Held bool
}

// Compatible reports whether a and b may be paired: each one's gender is in
// the other's Seeking, they are different users, and neither is in the
// other's Recent.
func Compatible(a, b *Waiter) bool {
	if a.UserID == b.UserID || !a.Seeking.Has(b.Gender) || !b.Seeking.Has(a.Gender) {
		return false
	}
	return !a.Recent.Has(b.UserID) && !b.Recent.Has(a.UserID)
}

// Partners is a set of user ids, sorted: a waiter's rematch cooldown. A
// user may have met hundreds within a 24 h cooldown, and the set comes
// with every enqueue and re-announcement, so it is the sorted ids the
// session sends (PartnersOf keeps them as they come, 16 bytes an id), not
// a map built from them at each (about 50 bytes an id, and the garbage of
// building it).
type Partners []string

// PartnersOf returns ids as a set. Sorted ids (the sessions send them so)
// are kept as they are: the caller must not change them afterwards; any
// others are copied and sorted.
func PartnersOf(ids []string) Partners {
	if len(ids) == 0 {
		return nil
	}
	if !slices.IsSorted(ids) {
		ids = slices.Clone(ids)
		slices.Sort(ids)
	}
	return Partners(ids)
}

// Has reports whether id is in the set: O(log n).
func (p Partners) Has(id string) bool {
	if len(p) == 0 {
		return false
	}
	_, ok := slices.BinarySearch(p, id)
	return ok
}

// class is a waiter's bucket: gender x seeking mask, 3 x 7 values.
type class uint8

// numClasses is the number of (gender, seeking) classes.
const numClasses = numGenders * (1<<numGenders - 1)

// classOf returns the class of a waiter with gender g seeking s, and false
// when either is invalid.
func classOf(g Gender, s GenderSet) (class, bool) {
	if !g.Valid() || !s.Valid() {
		return 0, false
	}
	return class(int(g-1)*int(allGenders) + int(s) - 1), true
}

// gender returns the gender of every waiter in class c.
func (c class) gender() Gender { return Gender(int(c)/int(allGenders) + 1) }

// seeking returns the seeking set of every waiter in class c.
func (c class) seeking() GenderSet { return GenderSet(int(c)%int(allGenders) + 1) }

// compatibleClass reports whether waiters of classes a and b are compatible
// by gender and seeking (ignoring identity and cooldown).
func compatibleClass(a, b class) bool {
	return a.seeking().Has(b.gender()) && b.seeking().Has(a.gender())
}

// competingClass reports whether waiters of classes a and b compete for the
// same partners: same gender and overlapping seeking.
func competingClass(a, b class) bool {
	return a.gender() == b.gender() && a.seeking()&b.seeking() != 0
}

// classSet is a set of classes, one bit per class.
type classSet uint32

// next removes and returns the lowest class of *s; ok is false when empty.
func (s *classSet) next() (c class, ok bool) {
	if *s == 0 {
		return 0, false
	}
	c = class(bits.TrailingZeros32(uint32(*s)))
	*s &= *s - 1
	return c, true
}

// Per class, the classes compatible with it and those competing with it.
// Read-only after package initialization.
var partnerClasses, competitorClasses = buildClassSets()

func buildClassSets() (partners, competitors [numClasses]classSet) {
	for a := class(0); a < numClasses; a++ {
		for b := class(0); b < numClasses; b++ {
			if compatibleClass(a, b) {
				partners[a] |= 1 << b
			}
			if competingClass(a, b) {
				competitors[a] |= 1 << b
			}
		}
	}
	return partners, competitors
}

// timeKey maps t to nanoseconds since the Unix epoch, clamped to int64 so
// that the zero time and far dates still order correctly.
func timeKey(t time.Time) int64 {
	const maxSec = (1<<63 - 1) / int64(time.Second)
	sec := t.Unix()
	switch {
	case sec <= -maxSec:
		return -1 << 63
	case sec >= maxSec:
		return 1<<63 - 1
	}
	return t.UnixNano()
}
