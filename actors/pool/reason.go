package pool

import (
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fixed reasons.
const (
	reasonInvalid = "Your gender or the genders you are looking for are missing, so there is no estimate."
	reasonInstant = "People you could be matched with are waiting right now, so a match should come almost at once."
)

// Scarcity rule, shared by ETA reasons and pool statistics: a side is scarce
// when the other side has at least scarceMin people waiting and at least
// scarceRatio times as many.
const (
	scarceMin   = 3
	scarceRatio = 2
)

// scarce reports whether many is enough larger than few to call few scarce.
func scarce(many, few int) bool {
	return many >= scarceMin && many >= scarceRatio*few
}

// reasonInput is what a reason sentence is built from.
type reasonInput struct {
	gender   Gender
	seeking  GenderSet
	position int
	waiting  map[Gender]int
	perHour  float64 // partner arrivals per hour
	rough    bool    // the prior dominates
	quiet    bool    // P50 is long
	queued   bool    // "You are" (queued) or "You would be" (newcomer)
	// usualLo and usualHi are the middle half of the recent matched waits
	// of the waiter's gender (zero when too few).
	usualLo, usualHi time.Duration
	// fastLine: many of those ahead leave, so the line moves faster than
	// its length.
	fastLine bool
}

// reason builds the sentence of an ETA.
func reason(in reasonInput) string {
	var buf [320]byte
	b := buf[:0]
	partners := in.seeking &^ SetOf(in.gender)
	own, few := in.waiting[in.gender], 0
	for _, g := range Genders {
		if partners.Has(g) {
			few += in.waiting[g]
		}
	}
	switch {
	case partners != 0 && scarce(own, few) && few == 0:
		// "14 men are waiting and no women right now."
		b = appendCapitalized(b, string(appendCount(nil, own, in.gender)))
		b = append(b, " are waiting and no "...)
		b = append(b, genderList(partners)...)
		b = append(b, " right now. "...)
	case partners != 0 && scarce(own, few):
		// "About 3 men are waiting for each woman right now."
		b = append(b, "About "...)
		b = strconv.AppendInt(b, int64(math.Round(float64(own)/float64(few))), 10)
		b = append(b, ' ')
		b = append(b, in.gender.Plural()...)
		b = append(b, " are waiting for each "...)
		b = append(b, singularList(partners)...)
		b = append(b, " right now. "...)
	case in.rough:
		b = append(b, "Few people have joined this pool lately, so this is a rough estimate. "...)
	case in.quiet:
		b = append(b, "The pool is quiet right now: "...)
		if n := math.Round(in.perHour); n >= 1 {
			b = append(b, "about "...)
			b = strconv.AppendInt(b, int64(n), 10)
			if n == 1 {
				b = append(b, " person you could be matched with joins per hour. "...)
			} else {
				b = append(b, " people you could be matched with join per hour. "...)
			}
		} else {
			b = append(b, "fewer than one person you could be matched with joins per hour. "...)
		}
	default:
		b = append(b, "A match should come soon: "...)
		b = appendInLine(b, in, false)
		return string(b)
	}
	if in.usualHi > 0 {
		// "Men here are usually matched within 1 to 3 minutes."
		b = appendCapitalized(b, in.gender.Plural())
		b = append(b, " here are usually matched "...)
		b = appendSpan(b, in.usualLo, in.usualHi)
		b = append(b, ". "...)
	}
	if in.fastLine {
		b = append(b, "Many of those ahead of you leave before a match, so the line moves faster than its length suggests. "...)
	}
	b = appendInLine(b, in, true)
	return string(b)
}

// appendSpan appends "within 1 to 3 minutes", "within about 40 seconds",
// "within 30 seconds to 2 minutes" or "almost at once".
func appendSpan(b []byte, lo, hi time.Duration) []byte {
	if hi < 2*time.Second {
		return append(b, "almost at once"...)
	}
	b = append(b, "within "...)
	loN, loU := humanUnit(lo)
	hiN, hiU := humanUnit(hi)
	switch {
	case loN == hiN && loU == hiU, loN == 0:
		b = append(b, "about "...)
	case loU == hiU:
		b = strconv.AppendInt(b, int64(loN), 10)
		b = append(b, " to "...)
	default:
		b = appendAmount(b, loN, loU)
		b = append(b, " to "...)
	}
	return appendAmount(b, hiN, hiU)
}

// humanUnit rounds d to whole seconds (under a minute), minutes (under 90
// minutes) or hours.
func humanUnit(d time.Duration) (int, string) {
	switch {
	case d < time.Minute:
		return int(d.Round(time.Second) / time.Second), "second"
	case d < 90*time.Minute:
		return max(1, int(d.Round(time.Minute)/time.Minute)), "minute"
	}
	return int(d.Round(time.Hour) / time.Hour), "hour"
}

// appendAmount appends "1 minute", "40 seconds".
func appendAmount(b []byte, n int, unit string) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = append(b, unit...)
	if n != 1 {
		b = append(b, 's')
	}
	return b
}

// singularList names one person of the genders of s: "woman", "woman or
// nonbinary person".
func singularList(s GenderSet) string {
	var parts []string
	for _, g := range Genders {
		if s.Has(g) {
			parts = append(parts, g.Singular())
		}
	}
	switch len(parts) {
	case 0:
		return "person"
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " or " + parts[1]
	}
	return parts[0] + ", " + parts[1] + " or " + parts[2]
}

// appendInLine appends "You are 4th in line." (or "you would be ..." for a
// newcomer), capitalized when it starts a sentence.
func appendInLine(b []byte, in reasonInput, capital bool) []byte {
	switch {
	case capital && in.queued:
		b = append(b, "You are "...)
	case capital:
		b = append(b, "You would be "...)
	case in.queued:
		b = append(b, "you are "...)
	default:
		b = append(b, "you would be "...)
	}
	b = appendOrdinal(b, in.position)
	return append(b, " in line."...)
}

// appendCount appends "3 women", "1 woman" or "no women".
func appendCount(b []byte, n int, g Gender) []byte {
	switch n {
	case 0:
		b = append(b, "no "...)
		return append(b, g.Plural()...)
	case 1:
		b = append(b, "1 "...)
		return append(b, g.Singular()...)
	}
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	return append(b, g.Plural()...)
}

// appendOrdinal appends 1st, 2nd, 3rd, 4th, 11th, 21st, ...
func appendOrdinal(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return append(b, suffix...)
}

// genderList names the genders of s: "women", "women and nonbinary people".
func genderList(s GenderSet) string {
	switch s {
	case SetOf(Male):
		return Male.Plural()
	case SetOf(Female):
		return Female.Plural()
	case SetOf(Nonbinary):
		return Nonbinary.Plural()
	case SetOf(Male, Female):
		return "men and women"
	case SetOf(Male, Nonbinary):
		return "men and nonbinary people"
	case SetOf(Female, Nonbinary):
		return "women and nonbinary people"
	}
	return "men, women and nonbinary people"
}

// appendCapitalized appends s with its first letter in upper case.
func appendCapitalized(b []byte, s string) []byte {
	r, size := utf8.DecodeRuneInString(s)
	b = utf8.AppendRune(b, unicode.ToUpper(r))
	return append(b, s[size:]...)
}
