package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// POST /api/test/batch-setup makes synthetic users for load tests: ids
// "test-<batch>-<n>", each seeking the other binary gender (nonbinary
// seeks all), with a token the node signs, optionally spinning. The work
// is bounded: at most maxBatch users per call, and at most batchWorkers
// users being set up at a time on the node however many calls run (they
// share API.batch).
const (
	maxBatch     = 1000
	batchWorkers = 32
)

const batchUsage = `Send {"count": 1 to 1000, "pool": "...", "genders": {"male": 1, "female": 1}, "spin": true or false}.`

// batchRequest is a parsed batch-setup body.
type batchRequest struct {
	count   int
	pool    string
	genders map[string]float64
	spin    bool
}

// parseBatch parses a batch-setup body; the pool is checked by the caller
// (System.CheckPool). Genders default to {"male": 1, "female": 1}.
func parseBatch(data []byte) (batchRequest, *msg.Error) {
	var b struct {
		Count   *int               `json:"count"`
		Pool    string             `json:"pool"`
		Genders map[string]float64 `json:"genders"`
		Spin    bool               `json:"spin"`
	}
	if err := wire.Unmarshal(data, &b); err != nil {
		return batchRequest{}, bodyError(err, batchUsage)
	}
	if b.Count == nil || *b.Count < 1 || *b.Count > maxBatch {
		return batchRequest{}, actors.NewError(actors.CodeBadRequest, "count must be a whole number from 1 to 1000.")
	}
	if b.Genders == nil {
		b.Genders = map[string]float64{"male": 1, "female": 1}
	}
	sum := 0.0
	for g, wt := range b.Genders {
		if _, ok := pool.ParseGender(g); !ok {
			return batchRequest{}, actors.NewError(actors.CodeBadRequest, "genders may name male, female and nonbinary only.")
		}
		if wt < 0 {
			return batchRequest{}, actors.NewError(actors.CodeBadRequest, "A gender's weight can't be negative.")
		}
		sum += wt
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return batchRequest{}, actors.NewError(actors.CodeBadRequest, "Give at least one gender a weight above 0 (and keep the weights finite).")
	}
	return batchRequest{count: *b.Count, pool: b.Pool, genders: b.Genders, spin: b.Spin}, nil
}

// apportion assigns n users their genders in proportion to the weights:
// each gender gets the floor of its exact share and the remainder goes to
// the largest fractions (ties in pool.Genders order), so 20 users at 1:1
// are exactly 10 and 10. The genders are interleaved, each user taking the
// gender furthest behind its share so far.
func apportion(n int, weights map[string]float64) []string {
	type share struct {
		g     string
		exact float64
		quota int
		given int
	}
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	var shares []*share
	left := n
	for _, g := range pool.Genders {
		w := weights[g.String()]
		if w <= 0 {
			continue
		}
		exact := float64(n) * (w / sum)
		s := &share{g: g.String(), exact: exact, quota: int(math.Floor(exact))}
		left -= s.quota
		shares = append(shares, s)
	}
	byFraction := append([]*share(nil), shares...)
	sort.SliceStable(byFraction, func(i, j int) bool {
		return byFraction[i].exact-math.Floor(byFraction[i].exact) > byFraction[j].exact-math.Floor(byFraction[j].exact)
	})
	for i := 0; left > 0; i = (i + 1) % len(byFraction) {
		byFraction[i].quota++
		left--
	}
	out := make([]string, 0, n)
	for i := range n {
		var best *share
		bestLag := math.Inf(-1)
		for _, s := range shares {
			if s.given == s.quota {
				continue
			}
			if lag := float64(s.quota)*float64(i+1)/float64(n) - float64(s.given); lag > bestLag {
				best, bestLag = s, lag
			}
		}
		best.given++
		out = append(out, best.g)
	}
	return out
}

// seekingOf is a synthetic user's seeking: the other binary gender;
// nonbinary seeks all.
func seekingOf(gender string) []string {
	switch gender {
	case "male":
		return []string{"female"}
	case "female":
		return []string{"male"}
	}
	return []string{"male", "female", "nonbinary"}
}

// batchUser is one entry of the batch-setup answer.
type batchUser struct {
	UserID string `json:"user_id"`
	Gender string `json:"gender"`
	Token  string `json:"token"`
}

func (a *API) testBatchSetup(w http.ResponseWriter, r *http.Request, c *testCall) {
	data, ok := c.readBody(w)
	if !ok {
		return
	}
	req, e := parseBatch(data)
	if e == nil {
		req.pool, e = a.sys.CheckPool(req.pool)
	}
	if e == nil && !a.verifier.CanIssue() {
		e = actors.NewError(actors.CodeUnavailable, "Test users need tokens this server signs itself, and it has no JWT_SECRET. Set JWT_SECRET to use batch-setup.")
	}
	if e != nil {
		c.refuse(w, "", e)
		return
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	prefix := "test-" + hex.EncodeToString(id[:]) + "-"
	detail := "count=" + strconv.Itoa(req.count) + " pool=" + req.pool + " spin=" + strconv.FormatBool(req.spin)
	if !c.audit(w, prefix+"*", detail) {
		return
	}
	users, err := a.setUpBatch(r.Context(), prefix, req)
	if err != nil {
		a.log.Error("api: batch setup", "made", len(users), "of", req.count, "err", err)
		writeJSON(w, wire.Status(actors.CodeUnavailable), map[string]any{
			"error": map[string]string{
				"code":     actors.CodeUnavailable,
				"message":  fmt.Sprintf("We set up %d of the %d test users before our servers stopped answering. Please try again in a moment.", len(users), req.count),
				"help_url": wire.HelpURL(actors.CodeUnavailable),
			},
			"users": users, // those set up (extension)
		})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"users": users})
}

// setUpBatch makes the batch's users, on the node's batchWorkers, and returns
// them in order. On the first failure it starts no more and returns the
// users made so far with the error.
func (a *API) setUpBatch(ctx context.Context, prefix string, req batchRequest) ([]batchUser, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	genders := apportion(req.count, req.genders)
	made := make([]*batchUser, len(genders))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error // guarded by mu
	)
	for i, g := range genders {
		if !a.takeBatchWorker(ctx) {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-a.batch; wg.Done() }()
			u, err := a.setUpUser(ctx, fmt.Sprintf("%s%04d", prefix, i+1), i+1, g, req)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
				return
			}
			made[i] = u
		}()
	}
	wg.Wait()
	out := make([]batchUser, 0, len(made))
	for _, u := range made {
		if u != nil {
			out = append(out, *u)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// takeBatchWorker waits for one of the node's batch workers; false: ctx
// ended first (or the batch failed), and no worker is held.
func (a *API) takeBatchWorker(ctx context.Context) bool {
	select {
	case a.batch <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if ctx.Err() != nil {
		<-a.batch
		return false
	}
	return true
}

// setUpUser stores one synthetic user's profile through its session,
// signs its token and, when asked, spins it.
func (a *API) setUpUser(ctx context.Context, id string, n int, gender string, req batchRequest) (*batchUser, error) {
	tok, err := a.verifier.Issue(id, a.cfg.DevTokenTTL)
	if err != nil {
		return nil, err
	}
	p := &msg.ProfileData{UserId: id, DisplayName: "Test user " + strconv.Itoa(n), Gender: gender, Seeking: seekingOf(gender), Pool: req.pool}
	rep, err := a.sys.PutProfile(ctx, id, p)
	if err != nil {
		return nil, fmt.Errorf("profile of %s: %w", id, err)
	}
	if rep.Error != nil {
		return nil, fmt.Errorf("profile of %s: %s", id, rep.Error.Code)
	}
	if req.spin {
		ev, err := a.sys.Command(ctx, id, &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}})
		if err != nil {
			return nil, fmt.Errorf("spin of %s: %w", id, err)
		}
		if e := ev.GetError(); e != nil {
			return nil, fmt.Errorf("spin of %s: %s", id, e.Code)
		}
	}
	return &batchUser{UserID: id, Gender: gender, Token: tok}, nil
}
