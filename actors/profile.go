package actors

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/persistence"
)

// DefaultPool is the pool of a profile that names none.
const DefaultPool = "global"

var poolName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// NormalizeProfile checks a profile against PROTOCOL.md (Profiles), fills in
// the default pool, and returns a typed error naming the first problem.
func NormalizeProfile(p *msg.ProfileData) *msg.Error {
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
		p.Pool = DefaultPool
	}
	if !poolName.MatchString(p.Pool) {
		return NewError(CodeBadRequest, "The pool name may use a-z, 0-9, '_' and '-', up to 32 characters.")
	}
	return nil
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
