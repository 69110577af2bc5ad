package pool

import (
	"math"
	"strconv"
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
}

// reason builds the sentence of an ETA, in one allocation.
func reason(in reasonInput) string {
	var buf [256]byte
	b := buf[:0]
	partners := in.seeking &^ SetOf(in.gender)
	own, few := in.waiting[in.gender], 0
	for _, g := range Genders {
		if partners.Has(g) {
			few += in.waiting[g]
		}
	}
	switch {
	case partners != 0 && scarce(own, few):
		// "Women are scarce in this pool right now: 3 women and 14 men are
		// waiting, so men wait longer."
		b = appendCapitalized(b, genderList(partners))
		b = append(b, " are scarce in this pool right now: "...)
		first := true
		for _, g := range Genders {
			if !partners.Has(g) {
				continue
			}
			if !first {
				b = append(b, ", "...)
			}
			first = false
			b = appendCount(b, in.waiting[g], g)
		}
		b = append(b, " and "...)
		b = appendCount(b, own, in.gender)
		b = append(b, " are waiting, so "...)
		b = append(b, in.gender.Plural()...)
		b = append(b, " wait longer. "...)
		b = appendInLine(b, in, true)
	case in.rough:
		b = append(b, "Few people have joined this pool lately, so this is a rough estimate. "...)
		b = appendInLine(b, in, true)
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
		b = appendInLine(b, in, true)
	default:
		b = append(b, "A match should come soon: "...)
		b = appendInLine(b, in, false)
	}
	return string(b)
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
