package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"html"
	"net/http"
	"slices"
	"strings"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// profileBody is the wire form of a profile (PROTOCOL.md, Profiles).
type profileBody struct {
	UserID      string   `json:"user_id,omitempty"`
	DisplayName string   `json:"display_name"`
	Gender      string   `json:"gender"`
	Seeking     []string `json:"seeking"`
	Pool        string   `json:"pool"`
}

func profileJSON(p *msg.ProfileData) profileBody {
	return profileBody{UserID: p.UserId, DisplayName: p.DisplayName, Gender: p.Gender, Seeking: p.Seeking, Pool: p.Pool}
}

func (b profileBody) data() *msg.ProfileData {
	return &msg.ProfileData{UserId: b.UserID, DisplayName: b.DisplayName, Gender: b.Gender, Seeking: b.Seeking, Pool: b.Pool}
}

func (a *API) getMe(w http.ResponseWriter, r *http.Request, userID string) {
	rep, err := a.sys.Profile(r.Context(), userID)
	if err != nil {
		WriteError(w, actors.CodeUnavailable, "Your profile is unavailable right now. Please try again in a moment.")
		return
	}
	if rep.Error != nil {
		a.writeUserError(w, rep.Error, limit.RestUser)
		return
	}
	writeJSON(w, http.StatusOK, profileJSON(rep.Profile))
}

func (a *API) putMe(w http.ResponseWriter, r *http.Request, userID string) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	b, e := parseProfile(data)
	if e != nil {
		writeMsgError(w, e)
		return
	}
	a.saveProfile(w, r, userID, b, nil)
}

// saveProfile stores a profile through the user's session; extra, when set,
// adds fields to the success body.
func (a *API) saveProfile(w http.ResponseWriter, r *http.Request, userID string, b profileBody, extra func(map[string]any)) {
	rep, err := a.sys.PutProfile(r.Context(), userID, b.data())
	if err != nil {
		WriteError(w, actors.CodeUnavailable, "We couldn't save your profile right now. Please try again in a moment.")
		return
	}
	if rep.Error != nil {
		a.writeUserError(w, rep.Error, limit.Profile)
		return
	}
	action := "profile.update"
	if extra != nil {
		action = "dev_token"
	}
	a.audit(r, userID, action, "pool="+rep.Profile.Pool)
	if extra == nil {
		writeJSON(w, http.StatusOK, profileJSON(rep.Profile))
		return
	}
	out := map[string]any{"profile": profileJSON(rep.Profile)}
	extra(out)
	writeJSON(w, http.StatusOK, out)
}

// devToken creates or updates a profile and returns a token for it
// (development only; 404 in production).
func (a *API) devToken(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Development {
		WriteError(w, actors.CodeNotFound, "There's no such API route.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	b, e := parseProfile(data)
	if e != nil {
		writeMsgError(w, e)
		return
	}
	if b.UserID == "" {
		var id [12]byte
		_, _ = rand.Read(id[:])
		b.UserID = "dev-" + hex.EncodeToString(id[:])
	}
	if len(b.UserID) > 64 || strings.ContainsAny(b.UserID, " \t\r\n/") {
		WriteError(w, actors.CodeBadRequest, "user_id must be at most 64 characters without spaces or slashes.")
		return
	}
	tok, err := a.verifier.Issue(b.UserID, a.cfg.DevTokenTTL)
	if err != nil {
		WriteError(w, actors.CodeInternal, "We couldn't sign you in. Please try again.")
		return
	}
	a.saveProfile(w, r, b.UserID, b, func(out map[string]any) {
		out["user_id"] = b.UserID
		out["token"] = tok
	})
}

type poolStatus struct {
	Pool    string             `json:"pool"`
	Waiting map[string]int32   `json:"waiting"`
	EtaS    map[string]float64 `json:"eta_s"`
}

// queueStatus is public: per pool, who waits and the ETA per gender
// (QueueStatus).
func (a *API) queueStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, QueueStatus(r.Context(), a.sys))
}

// QueueStatusBody is the public /api/queue/status body, also the frame of
// /status/ws. A pool that does not answer in time is left out and named in
// Unavailable (an extension of PROTOCOL.md's body), never a 503 for all.
type QueueStatusBody struct {
	Pools       []PoolStatus `json:"pools"`
	Unavailable []string     `json:"unavailable,omitempty"`
}

// PoolStatus is one pool in QueueStatusBody.
type PoolStatus struct {
	Pool    string             `json:"pool"`
	Waiting map[string]int32   `json:"waiting"`
	EtaS    map[string]float64 `json:"eta_s"`
}

// QueueStatus computes the public queue status: pools by name, ETAs to a
// tenth of a second (so an unchanged queue encodes to the same bytes).
func QueueStatus(ctx context.Context, sys *actors.System) QueueStatusBody {
	ans := sys.PoolStatsAnswers(ctx)
	out := QueueStatusBody{Pools: make([]PoolStatus, 0, len(ans.Stats)), Unavailable: ans.Unavailable}
	for _, s := range ans.Stats {
		eta := make(map[string]float64, len(s.EtaS))
		for g, v := range s.EtaS {
			eta[g] = float64(int64(v*10+0.5)) / 10
		}
		out.Pools = append(out.Pools, PoolStatus{Pool: s.Pool, Waiting: s.Waiting, EtaS: eta})
	}
	slices.SortFunc(out.Pools, func(a, b PoolStatus) int { return strings.Compare(a.Pool, b.Pool) })
	return out
}

// helpPage lists every error code with its explanation; help_url links here.
func helpPage(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Spinmatch help: errors</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}h2{font-size:1.05rem;margin-top:1.5rem}code{background:#f3eef7;padding:.1em .35em;border-radius:4px}:target{background:#fff6d6}</style></head><body><h1>What went wrong?</h1><p>Every error Spinmatch shows has a code. Here is what each one means and what to do.</p>`)
	for _, c := range wire.Codes {
		b.WriteString(`<section id="` + c.Code + `"><h2><code>` + c.Code + `</code></h2><p>` + html.EscapeString(c.Help) + `</p></section>`)
	}
	b.WriteString(`<p><a href="/">Back to Spinmatch</a></p></body></html>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
