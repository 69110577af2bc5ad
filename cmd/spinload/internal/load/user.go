package load

import (
	"io"
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

// user is one connected load user. Its socket's reader (the worker's
// poller, or readLoop for a gorilla socket) drives the cycle through
// message; writes from the pacer, the reader and the timeout sweep go
// through send, which the socket serializes. The cycle fields are guarded
// by mu.
type user struct {
	w     *worker // static
	sock  sock    // static once connected
	index int     // static

	mu      sync.Mutex
	phase   phase
	spinAt  time.Time
	matchID string // the match being voted on
	voted   string // the last match voted on
	inIdle  bool   // in the worker's idle queue: at most once
}

// sock is a user's WebSocket: a raw one read by the worker's poller
// (rawConn), or a gorilla one read by readLoop (wsSock).
type sock interface {
	// writeText sends one text message.
	writeText(b []byte) error
	// shut closes the socket, with a close frame first when asked; its
	// reader then ends and calls gone.
	shut(closeFrame bool)
}

var (
	spinFrame   = []byte(`{"type":"spin"}`)
	cancelFrame = []byte(`{"type":"cancel"}`)
	statusFrame = []byte(`{"type":"status"}`)
)

// send writes one text frame; a failed write closes the socket, which
// ends the reader.
func (u *user) send(b []byte) {
	if err := u.sock.writeText(b); err != nil {
		u.sock.shut(false)
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

// message handles one server message, read at now.
func (u *user) message(data []byte, now time.Time) {
	var f frame
	if err := parseFrame(data, &f); err != nil {
		u.w.stats.error("bad_frame")
		return
	}
	u.handle(&f, now)
}

// gone marks the user's socket closed; its reader calls it once.
func (u *user) gone() {
	u.mu.Lock()
	u.phase = closed
	u.mu.Unlock()
	u.w.connected.Add(-1)
	if !u.w.stopping.Load() {
		u.w.stats.add(func(c *Counts) { c.Drops++ })
	}
	u.w.conns.Done()
}

func (u *user) handle(f *frame, now time.Time) {
	switch string(f.typ) {
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
		fresh := u.phase != closed && u.voted != string(f.matchID)
		id := string(f.matchID)
		if fresh {
			// Also from idle or resyncing: a match the server made
			// after a spin it refused to us in time, still to vote on.
			u.phase = matched
			u.matchID = id
		}
		at := u.spinAt
		u.mu.Unlock()
		if timed {
			u.w.stats.recordFound(id, now.Sub(at), now)
		}
		if fresh {
			u.startVote(id)
		}
	case "match_result":
		u.w.stats.recordResult(string(f.result) == "mutual")
		u.mu.Lock()
		mine := u.phase == matched && u.matchID == string(f.matchID)
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
		u.w.stats.error(string(f.code))
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
func (u *user) resync(f *frame) {
	u.mu.Lock()
	if u.phase != resyncing {
		u.mu.Unlock()
		return
	}
	switch string(f.state) {
	case "queued":
		u.phase = queued // the sweep cancels it if no match comes
		u.mu.Unlock()
	case "matched":
		id := string(f.stateMatchID)
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
	if u.w.votes != nil {
		u.w.votes.add(u, matchID)
	} else {
		u.vote(matchID)
	}
}

// vote sends the user's vote, yes with probability cfg.Yes.
func (u *user) vote(matchID string) {
	b := voteFrame(make([]byte, 0, 64+len(matchID)), matchID, rand.Float64() < u.w.cfg.Yes)
	u.w.stats.add(func(c *Counts) { c.Votes++ })
	u.send(b)
}

// wsSock is a gorilla socket, for what raw sockets do not cover (wss://,
// systems without epoll).
type wsSock struct {
	ws  *websocket.Conn
	wmu sync.Mutex // serializes writes on ws
}

func (s *wsSock) writeText(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return s.ws.WriteMessage(websocket.TextMessage, b)
}

func (s *wsSock) shut(closeFrame bool) {
	if closeFrame {
		s.wmu.Lock()
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		s.wmu.Unlock()
	}
	_ = s.ws.Close()
}

// readLoop reads a gorilla socket until it closes, into one buffer it
// reuses, handing each message to h.
func (s *wsSock) readLoop(h handler) {
	defer h.gone()
	buf := make([]byte, 0, 512)
	for {
		_, r, err := s.ws.NextReader()
		if err != nil {
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		h.message(buf, time.Now())
		if cap(buf) > 64<<10 {
			buf = make([]byte, 0, 512)
		}
	}
}
