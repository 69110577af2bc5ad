package load

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// phase is where a user is in its spin cycle.
type phase int

const (
	idle       phase = iota // in the worker's idle queue, or about to be
	spinning                // spin sent, queued not yet received
	queued                  // queued received, waiting for match_found
	matched                 // match_found received, waiting for match_result
	cancelling              // cancel sent after the match timeout
	resyncing               // status sent after a refused spin or cancel, waiting for state
	closed                  // socket gone
)

// user is one connected load user. The reader goroutine (readLoop) owns
// the socket's reads; writes from the pacer, the reader and the timeout
// sweep go through send, guarded by wmu. The cycle fields are guarded by mu.
type user struct {
	w     *worker // static
	ws    *websocket.Conn
	index int // static

	wmu sync.Mutex // serializes writes on ws

	mu      sync.Mutex
	phase   phase
	spinAt  time.Time
	matchID string // the match being voted on
	voted   string // the last match voted on
	inIdle  bool   // in the worker's idle queue: at most once
}

var (
	spinFrame   = []byte(`{"type":"spin"}`)
	cancelFrame = []byte(`{"type":"cancel"}`)
	statusFrame = []byte(`{"type":"status"}`)
)

// send writes one text frame; a failed write closes the socket, which
// ends the reader.
func (u *user) send(b []byte) {
	u.wmu.Lock()
	_ = u.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err := u.ws.WriteMessage(websocket.TextMessage, b)
	u.wmu.Unlock()
	if err != nil {
		_ = u.ws.Close()
	}
}

// spin starts a cycle; called by the pacer for a user it took from the
// idle queue.
func (u *user) spin() {
	u.mu.Lock()
	u.inIdle = false
	if u.phase != idle {
		u.mu.Unlock()
		return
	}
	u.phase = spinning
	u.spinAt = time.Now()
	u.mu.Unlock()
	u.w.stats.add(func(c *Counts) { c.Spins++ })
	u.send(spinFrame)
}

// timeout cancels a user queued for longer than the match timeout.
func (u *user) timeout(now time.Time) {
	u.mu.Lock()
	if u.phase != queued || now.Sub(u.spinAt) < u.w.cfg.MatchTimeout {
		u.mu.Unlock()
		return
	}
	u.phase = cancelling
	u.mu.Unlock()
	u.w.stats.add(func(c *Counts) { c.Timeouts++ })
	u.send(cancelFrame)
}

// toIdle ends a cycle and hands the user back to the pacer.
func (u *user) toIdle() {
	u.mu.Lock()
	if u.phase == closed || u.phase == idle {
		u.mu.Unlock()
		return
	}
	u.phase = idle
	u.matchID = ""
	push := !u.inIdle
	u.inIdle = true
	u.mu.Unlock()
	if push {
		u.w.idle <- u // never blocks: the queue has room for every user once
	}
}

// serverFrame is the part of a server message the tool reads.
type serverFrame struct {
	Type    string `json:"type"`
	MatchID string `json:"match_id"`
	Result  string `json:"result"`
	Code    string `json:"code"`
	State   string `json:"state"`
	Match   struct {
		MatchID string `json:"match_id"`
	} `json:"match"`
}

// readLoop reads the socket until it closes, driving the cycle.
func (u *user) readLoop() {
	defer u.w.conns.Done()
	for {
		_, data, err := u.ws.ReadMessage()
		if err != nil {
			u.mu.Lock()
			u.phase = closed
			u.mu.Unlock()
			u.w.connected.Add(-1)
			if !u.w.stopping.Load() {
				u.w.stats.add(func(c *Counts) { c.Drops++ })
			}
			return
		}
		now := time.Now()
		var f serverFrame
		if err := json.Unmarshal(data, &f); err != nil {
			u.w.stats.error("bad_frame")
			continue
		}
		u.handle(f, now)
	}
}

func (u *user) handle(f serverFrame, now time.Time) {
	switch f.Type {
	case "queued":
		u.mu.Lock()
		ok := u.phase == spinning
		if ok {
			u.phase = queued
		}
		at := u.spinAt
		u.mu.Unlock()
		if ok {
			u.w.stats.recordQueued(now.Sub(at))
		}
	case "match_found":
		u.mu.Lock()
		timed := u.phase == spinning || u.phase == queued || u.phase == cancelling
		fresh := u.phase != closed && u.voted != f.MatchID
		if fresh {
			// Also from idle or resyncing: a match the server made
			// after a spin it refused to us in time, still to vote on.
			u.phase = matched
			u.matchID = f.MatchID
		}
		at := u.spinAt
		u.mu.Unlock()
		if timed {
			u.w.stats.recordFound(f.MatchID, now.Sub(at), now)
		}
		if fresh {
			u.startVote(f.MatchID)
		}
	case "match_result":
		u.w.stats.add(func(c *Counts) {
			c.Results++
			if f.Result == "mutual" {
				c.Mutual++
			}
		})
		u.mu.Lock()
		mine := u.phase == matched && u.matchID == f.MatchID
		u.mu.Unlock()
		if mine {
			u.toIdle()
		}
	case "cancelled":
		u.mu.Lock()
		mine := u.phase == cancelling
		u.mu.Unlock()
		if mine {
			u.toIdle()
		}
	case "state":
		u.resync(f)
	case "error":
		u.w.stats.error(f.Code)
		u.mu.Lock()
		p := u.phase
		if p == spinning || p == cancelling {
			u.phase = resyncing
		}
		u.mu.Unlock()
		if p == spinning || p == cancelling {
			// The spin (or cancel) failed, or seemed to: the server may
			// have done it anyway. Ask where the user stands, after a
			// pause so a refusal is not hammered.
			time.AfterFunc(time.Second, func() { u.send(statusFrame) })
		}
	}
}

// resync follows a state frame (on connect, or after status) when the
// user was waiting to learn where it stands.
func (u *user) resync(f serverFrame) {
	u.mu.Lock()
	if u.phase != resyncing {
		u.mu.Unlock()
		return
	}
	switch f.State {
	case "queued":
		u.phase = queued // the sweep cancels it if no match comes
		u.mu.Unlock()
	case "matched":
		id := f.Match.MatchID
		u.phase = matched
		u.matchID = id
		vote := id != "" && u.voted != id
		u.mu.Unlock()
		if vote {
			u.startVote(id)
		}
	default:
		u.mu.Unlock()
		u.toIdle()
	}
}

// startVote votes on matchID now, or after the vote delay.
func (u *user) startVote(matchID string) {
	u.mu.Lock()
	u.voted = matchID
	u.mu.Unlock()
	if d := u.w.cfg.VoteDelay; d > 0 {
		time.AfterFunc(d, func() { u.vote(matchID) })
	} else {
		u.vote(matchID)
	}
}

// vote sends the user's vote, yes with probability cfg.Yes.
func (u *user) vote(matchID string) {
	choice := "no"
	if rand.Float64() < u.w.cfg.Yes {
		choice = "yes"
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"type"`
		MatchID string `json:"match_id"`
		Choice  string `json:"choice"`
	}{"vote", matchID, choice})
	u.w.stats.add(func(c *Counts) { c.Votes++ })
	u.send(b)
}
