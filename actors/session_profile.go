package actors

import (
	"errors"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
)

// A UserSession's profile cache and rematch-cooldown partners.

func (s *session) loadProfile() (*msg.ProfileData, *msg.Error) {
	if s.profile != nil {
		s.d.Metrics.ProfileCacheHits.Inc()
		return s.profile, nil
	}
	s.d.Metrics.ProfileCacheMisses.Inc()
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	r, err := s.d.Store.Profile(c, s.userID)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return nil, NewError(CodeProfileIncomplete, "Finish your profile (name, gender, who you're seeking) before you spin.")
	case err != nil:
		s.d.Metrics.StoreErrors.WithLabelValues("profile").Inc()
		s.logger().Error("session: load profile", "err", err)
		return nil, errUnavailable()
	}
	s.profile = profileFromRecord(r)
	return s.profile, nil
}

func (s *session) putProfile(p *msg.ProfileData) *msg.ProfileReply {
	if s.state != StateIdle {
		return &msg.ProfileReply{Error: NewError(CodeBusy, "You can't change your profile while you're in the queue or on a date.")}
	}
	if p == nil {
		return &msg.ProfileReply{Error: NewError(CodeBadRequest, "A profile is required.")}
	}
	p.UserId = s.userID
	if e := NormalizeProfileIn(p, s.d.Config.Pools); e != nil {
		return &msg.ProfileReply{Error: e}
	}
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	if err := s.d.Store.PutProfile(c, profileToRecord(p)); err != nil {
		s.d.Metrics.StoreErrors.WithLabelValues("put_profile").Inc()
		s.logger().Error("session: save profile", "err", err)
		return &msg.ProfileReply{Error: errUnavailable()}
	}
	s.profile = p
	return &msg.ProfileReply{Profile: p}
}

// loadRecent fills the rematch-cooldown set from the store once per
// activation (at the first spin), so it survives restarts and moves. A
// store failure leaves it to be tried again at the next spin.
func (s *session) loadRecent() {
	if s.recentLoaded || s.d.Config.RematchCooldown <= 0 {
		return
	}
	c, cancel := s.d.callCtx(s.base())
	defer cancel()
	ids, err := s.d.Store.RecentPartners(c, s.userID, s.d.now().Add(-s.d.Config.RematchCooldown))
	if err != nil {
		s.d.Metrics.StoreErrors.WithLabelValues("recent_partners").Inc()
		s.logger().Warn("session: recent partners unavailable", "err", err)
		return
	}
	s.recentLoaded = true
	if len(ids) == 0 {
		return
	}
	have := make(map[string]struct{}, s.recent.len())
	s.recent.each(func(id string) { have[id] = struct{}{} })
	now := s.d.now()
	for _, id := range ids {
		if _, ok := have[id]; !ok {
			have[id] = struct{}{}
			s.addRecent(id, now)
		}
	}
}
