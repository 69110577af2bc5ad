package pg

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Group commit: the store's writes are not sent one transaction per call.
// A caller queues its write and waits; a few flusher goroutines each take
// every write that is waiting (up to commitConfig.MaxBatch), send all their
// statements in one pgx.Batch inside one transaction (a round trip for
// begin and every statement, then one for the commit, whatever the number
// of writes), and only then answer each caller. A caller is acknowledged
// after the commit that holds its write, never before. The commit is sent
// only once every result is in, so a connection lost mid-batch leaves
// nothing committed (the server rolls back a transaction whose client is
// gone), as with a transaction per call.
//
// Writes of one kind share statements: a batch's votes are one insert of
// arrays (unnest) and one read back, not two statements a vote, and so on
// for each kind (kind.go). Sharing reorders writes within a batch (all of
// one kind go together), so plan.go keeps in their order any two writes
// that touch the same row (a vote after the match it needs, a queue
// delete after a put of the same user), putting the later one in a later
// statement.
//
// A statement that fails aborts the batch's transaction. A shared one is
// not one write's: the committer sends the batch again with every write
// in a statement of its own. A write's own statement that fails is
// answered with that error, and the others go again without it, so one
// bad write fails only its own caller. A
// serialization failure or a deadlock retries the whole batch (as inTx
// does a transaction); a lost connection fails every write of the batch
// with persistence.ErrUnavailable, as it fails a transaction.

// commitConfig tunes the committer. Zero values mean the defaults.
type commitConfig struct {
	// Flushers is the number of batches in flight at once, each on its own
	// connection. Zero means defaultFlushers.
	Flushers int
	// MaxBatch bounds the writes in one batch. Zero means defaultMaxBatch.
	MaxBatch int
	// Queue bounds the writes waiting for a flusher. When it is full, a
	// caller waits for room until its context ends. Zero means
	// defaultCommitQueue.
	Queue int
}

const (
	// defaultFlushers: while one batch waits for its commit, others are
	// sent; four kept the commit queue short at 3,000 spins/s on 2 cores.
	defaultFlushers    = 4
	defaultMaxBatch    = 512
	defaultCommitQueue = 4096
	// batchTimeout bounds one batch whose writes carry no deadline.
	batchTimeout = 30 * time.Second
)

// commitSettings moves the group commit's settings out of a connection's
// runtime parameters (where pgx leaves the settings it does not know, and
// which it would send to the server) into cc.
func commitSettings(params map[string]string, cc *commitConfig) error {
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"commit_flushers", &cc.Flushers, 64}, {"commit_max_batch", &cc.MaxBatch, 100_000}} {
		v, ok := params[p.name]
		if !ok {
			continue
		}
		delete(params, p.name)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > p.max {
			return fmt.Errorf("%s must be a whole number from 1 to %d, not %q", p.name, p.max, v)
		}
		*p.dst = n
	}
	return nil
}

// errClosed is returned for a write queued after Close.
var errClosed = errors.New("pg: store closed")

// write is one caller's write. Its kind says how writes of that kind go
// to PostgreSQL together (kind.go): one shared statement for all of a
// batch's writes of one kind, or for one write alone. row is the kind's
// data for this write, and where the kind's read leaves its answer.
type write struct {
	op       string
	kind     *kind
	row      any
	keys     keys       // what the write reads and writes, for the batch's order (plan.go)
	deadline time.Time  // the caller's; zero: none
	done     chan error // buffered(1); receives the write's outcome once
}

// committer batches writes. queue is bounded (commitConfig.Queue); the
// flushers are a fixed number of goroutines started by newCommitter.
type committer struct {
	pool     *pgxpool.Pool // static; safe for concurrent use
	store    *Store        // static; for its logger
	maxBatch int           // static
	flushers int           // static

	queue chan *write   // bounded; read by the flushers
	quit  chan struct{} // closed by close
	wg    sync.WaitGroup

	mu     sync.RWMutex // guards closed; held shared while a write is queued
	closed bool

	// Counters, read by Stats: batches sent (retries included), the
	// statements in them (a shared one counts once), writes committed,
	// batches sent again without a failed write, batches sent again
	// unshared after a shared statement failed, and waits on a full queue.
	batches, statements, writes, splits, unshared, full atomic.Int64
	// Time spent in send, summed over the flushers: the whole batch
	// (acquire to commit answer), its statements (sent to the last
	// result read), and its commit alone.
	batchMicros, statementMicros, commitMicros atomic.Int64
	// kindMicros sums, by kind rank, the time from reading the result
	// before a kind's statements to reading their last: in a pipelined
	// batch that is about the server's time on them.
	kindMicros [numKinds]atomic.Int64
}

// withDefaults returns cfg with its zero fields set to the defaults.
func (cfg commitConfig) withDefaults() commitConfig {
	if cfg.Flushers <= 0 {
		cfg.Flushers = defaultFlushers
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = defaultMaxBatch
	}
	if cfg.Queue <= 0 {
		cfg.Queue = defaultCommitQueue
	}
	return cfg
}

func newCommitter(s *Store, pool *pgxpool.Pool, cfg commitConfig) *committer {
	cfg = cfg.withDefaults()
	c := &committer{pool: pool, store: s, maxBatch: cfg.MaxBatch, flushers: cfg.Flushers,
		queue: make(chan *write, cfg.Queue), quit: make(chan struct{})}
	c.wg.Add(cfg.Flushers)
	for range cfg.Flushers {
		go c.run()
	}
	return c
}

// do queues w and waits for its outcome or for ctx to end. An ended ctx
// does not take back a write already sent: like a cancelled transaction
// whose commit was on its way, it may be committed all the same.
func (c *committer) do(ctx context.Context, w *write) error {
	w.done = make(chan error, 1)
	w.deadline, _ = ctx.Deadline()
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return fmt.Errorf("%s: %w", w.op, errClosed)
	}
	select {
	case c.queue <- w:
	default:
		c.full.Add(1)
		select {
		case c.queue <- w:
		case <-ctx.Done():
			c.mu.RUnlock()
			return classify(w.op, ctx.Err())
		}
	}
	c.mu.RUnlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return classify(w.op, ctx.Err())
	}
}

// close stops taking writes, flushes those queued, and waits for the
// flushers to end.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.quit)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// run is one flusher: it takes a write, every other one waiting (up to
// maxBatch), and commits them together; after close it drains the queue.
func (c *committer) run() {
	defer c.wg.Done()
	batch := make([]*write, 0, c.maxBatch)
	for {
		var first *write
		select {
		case first = <-c.queue:
		case <-c.quit:
			select {
			case first = <-c.queue:
			default:
				return
			}
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < c.maxBatch {
			select {
			case w := <-c.queue:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		c.flush(batch)
		clear(batch)
	}
}

// flush commits ws, answering each write. The writes first go shared (a
// statement per kind and phase, plan.go); when a shared statement fails,
// the batch goes again with every write alone, so the statement that
// fails then is one write's own, and that write fails alone.
func (c *committer) flush(ws []*write) {
	backoff := baseBackoff
	shared := true
	for attempt := 1; ; {
		ws = c.dropExpired(ws)
		if len(ws) == 0 {
			return
		}
		units := planAlone(ws)
		if shared {
			units = plan(ws)
		}
		failed, err := c.send(units)
		switch {
		case err == nil:
			c.writes.Add(int64(len(ws)))
			for _, w := range ws {
				w.done <- nil
			}
			return
		case failed >= 0 && !retryable(err) && !unavailable(err) && len(units[failed].ws) > 1:
			// A shared statement failed: which of its writes is the
			// cause is unknown, so every write goes again alone.
			c.store.logger.Debug("pg batch: shared statement failed; sending its writes alone",
				"kind", units[failed].kind.name, "writes", len(units[failed].ws), "err", err)
			shared = false
			c.unshared.Add(1)
			continue
		case failed >= 0 && !retryable(err) && !unavailable(err):
			// The write's own statement failed: it alone gets the error,
			// and the others (rolled back with it) go again.
			bad := units[failed].ws[0]
			bad.done <- classify(bad.op, err)
			ws = slices.DeleteFunc(ws, func(w *write) bool { return w == bad })
			c.splits.Add(1)
			continue
		case retryable(err) && attempt < maxAttempts:
			wait := backoff/2 + rand.N(backoff/2+1)
			c.store.logger.Debug("pg batch retry", "writes", len(ws), "attempt", attempt, "wait", wait, "err", err)
			time.Sleep(wait)
			backoff = min(2*backoff, maxBackoff)
			attempt++
			continue
		}
		for _, w := range ws {
			w.done <- classify(w.op, err)
		}
		return
	}
}

// dropExpired answers the writes whose callers' deadlines have passed
// (they returned already) and returns the others.
func (c *committer) dropExpired(ws []*write) []*write {
	now := time.Now()
	kept := ws[:0]
	for _, w := range ws {
		if !w.deadline.IsZero() && !now.Before(w.deadline) {
			w.done <- classify(w.op, context.DeadlineExceeded)
			continue
		}
		kept = append(kept, w)
	}
	return kept
}

// send runs units, in order, as one batch in one transaction. It returns
// the index of the unit whose statement failed (-1: the commit itself, or
// the connection) and the error.
func (c *committer) send(units []unit) (int, error) {
	c.batches.Add(1)
	c.statements.Add(int64(len(units)))
	t0 := time.Now()
	defer func() { c.batchMicros.Add(time.Since(t0).Microseconds()) }()
	var latest time.Time
deadlines:
	for _, u := range units {
		for _, w := range u.ws {
			if w.deadline.IsZero() {
				latest = time.Time{}
				break deadlines
			}
			if w.deadline.After(latest) {
				latest = w.deadline
			}
		}
	}
	if latest.IsZero() || time.Until(latest) > batchTimeout {
		latest = time.Now().Add(batchTimeout)
	}
	ctx, cancel := context.WithDeadline(context.Background(), latest)
	defer cancel()
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return -1, err
	}
	// A connection given back inside a transaction (a failed rollback) is
	// closed by the pool, never reused.
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue("begin")
	for _, u := range units {
		u.kind.queue(b, u.ws)
	}
	t1 := time.Now()
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return -1, err
	}
	last := time.Now()
	for i, u := range units {
		if err := u.kind.read(br, u.ws); err != nil {
			_ = br.Close()
			_, _ = conn.Exec(ctx, "rollback")
			return i, err
		}
		now := time.Now()
		c.kindMicros[u.kind.rank].Add(now.Sub(last).Microseconds())
		last = now
	}
	if err := br.Close(); err != nil {
		_, _ = conn.Exec(ctx, "rollback")
		return -1, err
	}
	t2 := time.Now()
	c.statementMicros.Add(t2.Sub(t1).Microseconds())
	_, err = conn.Exec(ctx, "commit")
	c.commitMicros.Add(time.Since(t2).Microseconds())
	return -1, err
}
