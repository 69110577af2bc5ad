package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// maxKeySet bounds the key set document read from the project.
const maxKeySet = 1 << 20

// maxRetry caps the wait between fetches of a key set never fetched yet.
const maxRetry = 30 * time.Second

// keySet is a Supabase project's public keys (JWKS): keyfunc looks a
// token's kid up in store, which only fetch writes. A fetch runs at start
// (retried with backoff until one succeeds), every refresh interval, and
// for an unknown kid when the last fetch is older than refetch. Concurrent
// callers share one fetch (inflight). Static fields are set by newKeySet;
// the rest is guarded by mu.
type keySet struct {
	url     string
	client  *http.Client
	refetch time.Duration
	refresh time.Duration
	retry   time.Duration
	log     *slog.Logger
	now     func() time.Time     // the refetch limit's clock
	store   *jwkset.MemoryJWKSet // safe for concurrent use
	kf      keyfunc.Keyfunc
	ctx     context.Context // ends the loop and any fetch
	cancel  context.CancelFunc
	done    chan struct{} // closed when loop returns
	once    sync.Once

	mu        sync.Mutex
	loaded    bool          // a fetch has succeeded
	fetches   int           // fetches started (for tests)
	lastFetch time.Time     // when the last fetch started
	inflight  chan struct{} // closed when the running fetch ends; nil when none
}

func newKeySet(u string, cfg Config) *keySet {
	client := *cfg.Client // a copy: the body limit is ours
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = limitedBody{base}
	ctx, cancel := context.WithCancel(context.Background())
	ks := &keySet{
		url:     u,
		client:  &client,
		refetch: cfg.Refetch,
		refresh: cfg.Refresh,
		retry:   cfg.Retry,
		log:     cfg.Logger,
		now:     cfg.Now,
		store:   jwkset.NewMemoryStorage(),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	// keyfunc.New only fails without a storage.
	ks.kf, _ = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: ks.store})
	return ks
}

func (ks *keySet) start() { go ks.loop() }

func (ks *keySet) close() {
	ks.once.Do(func() {
		ks.cancel()
		<-ks.done
	})
}

// loop fetches the key set until one fetch succeeds (backing off from
// retry to maxRetry), then again every refresh interval. A failed refresh
// keeps the keys already known.
func (ks *keySet) loop() {
	defer close(ks.done)
	backoff := ks.retry
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ks.ctx.Done():
			return
		case <-t.C:
		}
		ks.fetch()
		next := ks.refresh
		if ks.ready() != nil {
			next, backoff = backoff, min(backoff*2, maxRetry)
		}
		t.Reset(next)
	}
}

// ready is nil once the key set has been fetched.
func (ks *keySet) ready() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.loaded {
		return errors.New("the Supabase key set has not been fetched yet")
	}
	return nil
}

// lookup returns the key of the token's kid (keyfunc checks that the
// key's alg, when it names one, is the token's). An unknown kid fetches
// the key set again, at most once per refetch interval.
func (ks *keySet) lookup(t *jwt.Token) (any, error) {
	k, err := ks.kf.Keyfunc(t)
	if err == nil || !errors.Is(err, jwkset.ErrKeyNotFound) {
		return k, err
	}
	if !ks.fetchForUnknown() {
		return nil, err
	}
	return ks.kf.Keyfunc(t)
}

// fetchForUnknown fetches the key set for an unknown kid unless the last
// fetch started less than refetch ago; it joins a fetch already running.
// It reports whether a fetch ended since the call.
func (ks *keySet) fetchForUnknown() bool {
	ks.mu.Lock()
	if ch := ks.inflight; ch != nil {
		ks.mu.Unlock()
		return ks.wait(ch)
	}
	if !ks.lastFetch.IsZero() && ks.now().Sub(ks.lastFetch) < ks.refetch {
		ks.mu.Unlock()
		return false
	}
	ch := ks.begin()
	ks.mu.Unlock()
	ks.run(ch)
	return true
}

// fetch fetches the key set now, or joins the fetch already running.
func (ks *keySet) fetch() {
	ks.mu.Lock()
	if ch := ks.inflight; ch != nil {
		ks.mu.Unlock()
		ks.wait(ch)
		return
	}
	ch := ks.begin()
	ks.mu.Unlock()
	ks.run(ch)
}

// begin marks a fetch as running; mu is held.
func (ks *keySet) begin() chan struct{} {
	ch := make(chan struct{})
	ks.inflight, ks.lastFetch = ch, ks.now()
	ks.fetches++
	return ch
}

func (ks *keySet) wait(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-ks.ctx.Done():
		return false
	}
}

// run performs the fetch begin marked and ends it. jwkset fetches and
// validates the document and replaces store's keys only when every key
// was read (keys of unsupported types are skipped).
func (ks *keySet) run(ch chan struct{}) {
	_, err := jwkset.NewStorageFromHTTP(ks.url, jwkset.HTTPClientStorageOptions{
		Client:      ks.client,
		Ctx:         ks.ctx,
		HTTPTimeout: ks.client.Timeout,
		Storage:     ks.store,
	})
	if err != nil && ks.ctx.Err() == nil {
		ks.log.Warn("auth: cannot fetch the Supabase key set", "url", ks.url, "err", err)
	}
	ks.mu.Lock()
	if err == nil {
		ks.loaded = true
	}
	ks.inflight = nil
	ks.mu.Unlock()
	close(ch)
}

// fetchCount returns how many fetches have started.
func (ks *keySet) fetchCount() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
}

// limitedBody cuts response bodies at maxKeySet bytes (a longer key set
// then fails to decode).
type limitedBody struct{ rt http.RoundTripper }

func (l limitedBody) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.rt.RoundTrip(r)
	if err != nil {
		return nil, fmt.Errorf("auth: key set: %w", err)
	}
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(res.Body, maxKeySet), res.Body}
	return res, nil
}
