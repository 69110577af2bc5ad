package actors

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/persistence"
)

// DefaultPool is the pool of a profile that names none.
const DefaultPool = "global"

var poolName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// ValidPoolName reports whether name has the form of a pool name,
// `[a-z0-9_-]{1,32}` (PROTOCOL.md, Profiles).
func ValidPoolName(name string) bool { return poolName.MatchString(name) }

// NormalizeProfile checks a profile against PROTOCOL.md (Profiles), fills in
// the default pool, and returns a typed error naming the first problem.
// Any valid pool name is accepted; see NormalizeProfileIn.
func NormalizeProfile(p *msg.ProfileData) *msg.Error { return NormalizeProfileIn(p, nil) }

// NormalizeProfileIn is NormalizeProfile with the pools of SPIN_POOLS:
// when allowed is non-empty, only those names are accepted, and a profile
// that names none gets DefaultPool if it is listed, else the first listed.
func NormalizeProfileIn(p *msg.ProfileData, allowed []string) *msg.Error {
	p.DisplayName = strings.TrimSpace(p.DisplayName)
	if n := utf8.RuneCountInString(p.DisplayName); n < 1 || n > 40 {
		return NewError(CodeBadRequest, "Your display name must be 1 to 40 characters.")
	}
	if _, ok := pool.ParseGender(p.Gender); !ok {
		return NewError(CodeBadRequest, "Gender must be one of male, female or nonbinary.")
	}
	set, ok := pool.ParseSeeking(p.Seeking)
	if !ok {
		return NewError(CodeBadRequest, "Choose at least one gender you are seeking: male, female or nonbinary.")
	}
	p.Seeking = set.Strings()
	if p.Pool == "" {
		p.Pool = defaultPoolIn(allowed)
	}
	if !poolName.MatchString(p.Pool) {
		return NewError(CodeBadRequest, "The pool name may use a-z, 0-9, '_' and '-', up to 32 characters.")
	}
	if !poolAllowed(p.Pool, allowed) {
		return NewError(CodeBadRequest, "That pool isn't offered here. Choose one of: "+strings.Join(allowed, ", ")+".")
	}
	return nil
}

// poolAllowed reports whether name may be chosen (allowed empty: any name).
func poolAllowed(name string, allowed []string) bool {
	return len(allowed) == 0 || slices.Contains(allowed, name)
}

// defaultPoolIn is the pool of a profile that names none.
func defaultPoolIn(allowed []string) string {
	if poolAllowed(DefaultPool, allowed) {
		return DefaultPool
	}
	return allowed[0]
}

// poolWithdrawn is the error of a spin whose stored profile names a pool
// SPIN_POOLS no longer lists: the user chooses again (the page opens the
// profile form on profile_incomplete), rather than being moved silently
// to a pool of another region.
func poolWithdrawn(name string, allowed []string) *msg.Error {
	return NewError(CodeProfileIncomplete, "The pool \""+name+"\" isn't offered any more. Choose one of: "+strings.Join(allowed, ", ")+", in your profile.")
}

func profileToRecord(p *msg.ProfileData) persistence.Profile {
	return persistence.Profile{
		UserID:      p.UserId,
		DisplayName: p.DisplayName,
		Gender:      p.Gender,
		Seeking:     append([]string(nil), p.Seeking...),
		Pool:        p.Pool,
	}
}

func profileFromRecord(r persistence.Profile) *msg.ProfileData {
	return &msg.ProfileData{
		UserId:      r.UserID,
		DisplayName: r.DisplayName,
		Gender:      r.Gender,
		Seeking:     append([]string(nil), r.Seeking...),
		Pool:        r.Pool,
	}
}
