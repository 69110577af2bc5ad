package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// WorkerSpec is what the coordinator sends a worker, as the first line on
// its standard input: the run and the worker's share of the users.
type WorkerSpec struct {
	Config Config `json:"config"`
	// Lo and Hi are the worker's users, [Lo, Hi) of 0..Users.
	Lo, Hi int
	// Rate is the worker's share of the spins a second.
	Rate float64
	// Tokens are the users' tokens from batch-setup, index i for user
	// Lo+i; empty when the worker mints them.
	Tokens []string `json:"tokens,omitempty"`
}

// worker holds one process's share of the users.
type worker struct {
	cfg   Config // static
	spec  WorkerSpec
	stats Stats
	idle  chan *user // the users waiting for the pacer; holds them all

	connected atomic.Int64
	stopping  atomic.Bool
	conns     sync.WaitGroup // one per reader goroutine

	outMu sync.Mutex // guards out
	out   *json.Encoder

	users []*user // written while connecting, then read-only

	votes *voteQueue // the votes waiting for the vote delay; nil without one

	// poller reads the raw sockets (ws:// targets, on Linux); nil when
	// every socket is a gorilla one.
	poller *poller

	lastReport time.Time // owned by run's goroutine
}

// RunWorker runs a worker: it reads its spec from in, connects its users,
// waits for "start", runs the scenario and writes Reports to out. It
// returns when the run is over, or in is closed.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 64<<10), 64<<20)
	if !lines.Scan() {
		return errors.New("worker: no spec on standard input")
	}
	var spec WorkerSpec
	if err := json.Unmarshal(lines.Bytes(), &spec); err != nil {
		return fmt.Errorf("worker: spec: %w", err)
	}
	w := &worker{cfg: spec.Config, spec: spec, out: json.NewEncoder(out), idle: make(chan *user, spec.Hi-spec.Lo)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if w.cfg.VoteDelay > 0 {
		w.votes = newVoteQueue(w.cfg.VoteDelay)
		go w.votes.run(ctx)
	}
	start := make(chan struct{})
	go func() {
		defer cancel() // the coordinator went away, or said stop
		for lines.Scan() {
			if lines.Text() == "start" {
				close(start)
			}
		}
	}()
	if err := w.connect(ctx); err != nil {
		w.emit(Report{Kind: "fatal", Message: err.Error()})
		w.close()
		return nil
	}
	w.emit(Report{Kind: "ready", Connected: int(w.connected.Load())})
	select {
	case <-start:
	case <-ctx.Done():
		w.close()
		return nil
	}
	w.run(ctx)
	w.emit(Report{Kind: "done"}) // before closing, so the coordinator's CPU reading leaves the close out
	w.close()
	return nil
}

func (w *worker) emit(r Report) {
	w.outMu.Lock()
	_ = w.out.Encode(r)
	w.outMu.Unlock()
}

// close closes every socket and waits for the readers.
func (w *worker) close() {
	w.stopping.Store(true)
	for _, u := range w.users {
		if u == nil {
			continue
		}
		u.sock.shut(true)
	}
	w.conns.Wait()
	if w.poller != nil {
		w.poller.close()
	}
}

// connect sets up and connects every user of the worker, at most
// ConnectRate/Workers new sockets a second. The first failure that no
// retry mends is returned, as one line.
func (w *worker) connect(ctx context.Context) error {
	n := w.spec.Hi - w.spec.Lo
	w.users = make([]*user, n)
	if rawSupported && os.Getenv(RawEnv) != "0" {
		p, err := newPoller()
		if err != nil {
			return err
		}
		w.poller = p
	}
	genders := assign(w.cfg.Genders, w.cfg.Users)
	httpc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	defer httpc.CloseIdleConnections()
	dialers := w.dialers()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	every := time.Duration(float64(time.Second) * float64(w.cfg.Workers) / w.cfg.ConnectRate)
	next := time.Now()
	lastReport := time.Now()
	for i := range n {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(every)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if time.Since(lastReport) >= 500*time.Millisecond {
			lastReport = time.Now()
			w.emit(Report{Kind: "connecting", Connected: int(w.connected.Load())})
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			g := w.spec.Lo + i
			u, err := w.setup(ctx, httpc, dialers[g%len(dialers)], g, genders[g])
			if err != nil {
				cancel(err)
				return
			}
			w.users[i] = u
		}(i)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	order := rand.Perm(n)
	for _, i := range order {
		w.users[i].inIdle = true // before any reader can see it
		w.idle <- w.users[i]
	}
	return nil
}

// RawEnv set to 0 makes every socket a gorilla one (wsSock), for
// comparing the two.
const RawEnv = "SPINLOAD_RAW"

// dialer dials from one source address: raw sockets with net, gorilla
// ones with ws.
type dialer struct {
	net *net.Dialer
	ws  *websocket.Dialer
}

// dialers returns one dialer per source address.
func (w *worker) dialers() []dialer {
	mk := func(local net.Addr) dialer {
		nd := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}
		return dialer{nd, &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 15 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 512}}
	}
	if len(w.cfg.Sources) == 0 {
		return []dialer{mk(nil)}
	}
	ds := make([]dialer, len(w.cfg.Sources))
	for i, a := range w.cfg.Sources {
		ds[i] = mk(&net.TCPAddr{IP: a.AsSlice()})
	}
	return ds
}

// setup makes user g's token and profile and opens its socket, retrying
// what may pass (a timeout, a busy server) a few times.
func (w *worker) setup(ctx context.Context, httpc *http.Client, d dialer, g int, gender string) (*user, error) {
	base := w.cfg.Targets[g%len(w.cfg.Targets)]
	var token string
	if len(w.spec.Tokens) > 0 {
		token = w.spec.Tokens[g-w.spec.Lo]
	} else {
		var err error
		token, err = Mint(w.cfg.Secret, UserID(w.cfg.RunID, g), w.cfg.Duration+time.Hour)
		if err != nil {
			return nil, err
		}
		prof := map[string]any{"display_name": fmt.Sprintf("Load %d", g), "gender": gender, "seeking": seeking(gender), "pool": w.cfg.Pools[g%len(w.cfg.Pools)]}
		if err := retry(ctx, func() error { return putProfile(ctx, httpc, base, token, prof) }); err != nil {
			return nil, err
		}
	}
	wsURL := wsTarget(base)
	header := http.Header{"Authorization": {"Bearer " + token}}
	u := &user{w: w, index: g}
	if w.poller != nil && strings.HasPrefix(wsURL, "ws://") {
		var conn *rawConn
		err := retry(ctx, func() error {
			c, res, err := dialRaw(ctx, d.net, wsURL, header)
			if err != nil {
				return dialError(wsURL, res, err)
			}
			conn = c
			return nil
		})
		if err != nil {
			return nil, err
		}
		u.sock = conn
		w.connected.Add(1)
		w.conns.Add(1)
		if err := conn.start(w.poller, u); err != nil {
			return nil, fmt.Errorf("%s: %w", wsURL, err)
		}
		return u, nil
	}
	var conn *websocket.Conn
	err := retry(ctx, func() error {
		c, res, err := d.ws.DialContext(ctx, wsURL, header)
		if err != nil {
			return dialError(wsURL, res, err)
		}
		conn = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	s := &wsSock{ws: conn}
	u.sock = s
	w.connected.Add(1)
	w.conns.Add(1)
	go s.readLoop(u)
	return u, nil
}

// permanent marks an error that a retry cannot mend.
type permanent struct{ error }

// retry runs f up to four times, with backoff, unless its error is permanent.
func retry(ctx context.Context, f func() error) error {
	wait := 200 * time.Millisecond
	var err error
	for range 4 {
		if err = f(); err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.error
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
	return err
}

// dialError turns a failed WebSocket dial into one line for an operator.
func dialError(wsURL string, res *http.Response, err error) error {
	if res != nil {
		code := errorCode(res)
		switch res.StatusCode {
		case http.StatusUnauthorized:
			return permanent{fmt.Errorf("%s refused the token (401 %s): is -secret the server's JWT_SECRET (or -test-key its TEST_API_KEY)?", wsURL, code)}
		case http.StatusForbidden:
			return permanent{fmt.Errorf("%s refused the socket (403 %s)", wsURL, code)}
		case http.StatusTooManyRequests:
			return permanent{fmt.Errorf("%s refused the socket (429 %s): exempt the load's addresses with the server's SPIN_LIMIT_EXEMPT (for example 127.0.0.0/8)", wsURL, code)}
		case http.StatusNotFound:
			return permanent{fmt.Errorf("%s answered 404: is this a Spinmatch server?", wsURL)}
		}
		return fmt.Errorf("%s: upgrade answered %d %s", wsURL, res.StatusCode, code)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return permanent{fmt.Errorf("cannot reach %s: connection refused", wsURL)}
	}
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		return permanent{fmt.Errorf("out of open files at %s: use more -workers", wsURL)}
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return permanent{fmt.Errorf("out of local ports at %s: add -sources (for example 127.0.0.1-127.0.0.8)", wsURL)}
	}
	return fmt.Errorf("%s: %w", wsURL, err)
}

// errorCode reads the code of an HTTP error body; "" when there is none.
func errorCode(res *http.Response) string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 16<<10)).Decode(&b)
	res.Body.Close()
	return b.Error.Code
}

// putProfile sets a minted user's profile with PUT /api/me.
func putProfile(ctx context.Context, httpc *http.Client, base, token string, prof map[string]any) error {
	body, _ := json.Marshal(prof)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/me", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := httpc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return permanent{fmt.Errorf("cannot reach %s: connection refused", base)}
		}
		return fmt.Errorf("PUT %s/api/me: %w", base, err)
	}
	if res.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		return nil
	}
	status := res.StatusCode
	code := errorCode(res)
	switch status {
	case http.StatusUnauthorized:
		return permanent{fmt.Errorf("%s refused the minted token (401 %s): is -secret the server's JWT_SECRET?", base, code)}
	case http.StatusBadRequest:
		return permanent{fmt.Errorf("%s refused the profile (400 %s): is the pool allowed by its SPIN_POOLS?", base, code)}
	case http.StatusTooManyRequests:
		return fmt.Errorf("PUT %s/api/me: 429 %s", base, code)
	}
	return fmt.Errorf("PUT %s/api/me: %d %s", base, status, code)
}

// run paces spins for the duration, sweeps timeouts and reports.
func (w *worker) run(ctx context.Context) {
	start := time.Now()
	w.lastReport = start
	end := start.Add(w.cfg.Duration)
	warmEnd := start.Add(w.cfg.Warmup)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(2)
	if w.poller != nil {
		// The poller's thread wakes for the sockets anyway: pacing there
		// spares a second thread waking every millisecond.
		go func() { defer wg.Done(); w.poller.pace(ctx, w.paceFunc(start)) }()
	} else {
		go func() { defer wg.Done(); w.pace(ctx, start) }()
	}
	go func() { defer wg.Done(); w.sweep(ctx) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	warm := time.NewTimer(time.Until(warmEnd))
	defer warm.Stop()
	warmDone := w.cfg.Warmup == 0
	for {
		select {
		case <-warm.C:
			if !warmDone {
				w.report(true)
				warmDone = true
			}
		case <-tick.C:
			w.report(!warmDone)
		case <-ctx.Done():
			wg.Wait()
			w.report(!warmDone)
			return
		}
	}
}

func (w *worker) report(warm bool) {
	now := time.Now()
	r := w.stats.take()
	r.Seconds = now.Sub(w.lastReport).Seconds()
	w.lastReport = now
	r.Kind = "stats"
	r.Warm = warm
	r.Connected = int(w.connected.Load())
	w.emit(r)
}

// pace sends spins open-loop at the worker's rate: every millisecond, the
// spins due since start that were not sent yet (paceFunc).
func (w *worker) pace(ctx context.Context, start time.Time) {
	tick := time.NewTicker(paceTick)
	defer tick.Stop()
	step := w.paceFunc(start)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			step(now)
		}
	}
}

// paceTick is how often spins are sent.
const paceTick = time.Millisecond

// paceFunc returns the pacer's step, to call every paceTick from one
// goroutine: it sends the spins due by now since start that were not sent
// yet; a due spin with no idle user is counted as missed.
func (w *worker) paceFunc(start time.Time) func(now time.Time) {
	var sent int64
	return func(now time.Time) {
		due := int64(w.spec.Rate * now.Sub(start).Seconds())
		for sent < due {
			select {
			case u := <-w.idle:
				sent++
				u.spin()
				continue
			default:
			}
			missed := uint64(due - sent)
			w.stats.add(func(c *Counts) { c.Missed += missed })
			sent = due
		}
	}
}

// sweep cancels users queued for longer than the match timeout.
func (w *worker) sweep(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, u := range w.users {
				u.timeout(now)
			}
		}
	}
}

// UserID is the id of user n of a run.
func UserID(runID string, n int) string { return fmt.Sprintf("load-%s-%d", runID, n) }

// wsTarget is base's WebSocket URL (for messages).
func wsTarget(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/ws"
	return u.String()
}
