// Package webhook POSTs JSON documents (the alert changes) to one
// configured URL, retrying with backoff, from its own goroutine: Send never
// blocks its caller and never waits on HTTP.
//
// The queue is bounded (Config.Queue). So that a receiver still ends up
// with each alert's latest state: a resolve queued while its firing (same
// rule, pool, gender and member) is still undelivered replaces it; when the
// queue is full the oldest firing (or other document) is dropped, a
// resolve only when nothing else is left; a document older than MaxAge is
// given up, so one slow or down receiver delays the later ones by MaxAge at
// most. Redirects are refused: the POST goes to the configured URL only.
//
// A Sender is safe for concurrent use: the queue is guarded by its mu; the
// delivery goroutine owns the document it dequeued.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Sender. Zero values mean the defaults named.
type Config struct {
	// URL is where documents are POSTed (ALERT_WEBHOOK_URL).
	URL string
	// Client makes the requests. Zero means one with a 10 s timeout.
	Client *http.Client
	// FirstRetry is the wait before the first retry; it doubles up to
	// MaxRetry. Zero means 1 s and 1 min.
	FirstRetry, MaxRetry time.Duration
	// Attempts bounds the tries of one document. Zero means 8 (about
	// 2 minutes of retries with the default backoff).
	Attempts int
	// Queue bounds the documents waiting. Zero means 256.
	Queue int
	// MaxAge is how long a document may wait and be retried before it is
	// given up (counted failed). Zero means 10 min.
	MaxAge time.Duration
	// Logger; nil means slog.Default.
	Logger *slog.Logger
	// Metrics; nil means unregistered instruments.
	Metrics *Metrics
}

// Metrics are the Sender's instruments.
type Metrics struct {
	// Deliveries counts documents by result: delivered, failed (gave up
	// after Attempts, or older than MaxAge) or dropped (the queue was full,
	// replaced by its resolve, or shutdown).
	Deliveries *prometheus.CounterVec
	// Attempts counts POSTs by result: ok or error.
	Attempts *prometheus.CounterVec
}

// Delivery results.
const (
	Delivered = "delivered"
	Failed    = "failed"
	Dropped   = "dropped"
)

// NewMetrics creates the instruments and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_alert_webhook_deliveries_total", Help: "Alert changes sent to ALERT_WEBHOOK_URL, by result (delivered, failed after every retry, dropped: queue full)."}, []string{"result"}),
		Attempts:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_alert_webhook_attempts_total", Help: "POSTs to ALERT_WEBHOOK_URL, by result (ok: a 2xx answer; error)."}, []string{"result"}),
	}
	for _, r := range []string{Delivered, Failed, Dropped} {
		m.Deliveries.WithLabelValues(r)
	}
	m.Attempts.WithLabelValues("ok")
	m.Attempts.WithLabelValues("error")
	if reg != nil {
		reg.MustRegister(m.Deliveries, m.Attempts)
	}
	return m
}

// Sender delivers documents to the webhook.
type Sender struct {
	cfg  Config        // static after New
	wake chan struct{} // capacity 1: something was queued
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	queue []doc // guarded by mu: oldest first, at most cfg.Queue
	now   func() time.Time
}

// doc is one queued document.
type doc struct {
	body    []byte
	key     string // rule, pool, gender, member; "" when the document is no alert
	resolve bool   // an alert whose state is resolved
	at      time.Time
}

// alertKey reads what coalescing needs from an encoded alert.
func alertKey(body []byte) (key string, resolve bool) {
	var a struct {
		Rule, State, Pool, Gender, Member string
	}
	if json.Unmarshal(body, &a) != nil || a.Rule == "" {
		return "", false
	}
	return a.Rule + "\x00" + a.Pool + "\x00" + a.Gender + "\x00" + a.Member, a.State == "resolved"
}

// New starts a Sender.
func New(cfg Config) *Sender {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	// A copy, so the caller's client is left as it was: the POST never
	// follows a redirect (an operator's URL cannot bounce it elsewhere);
	// a 3xx answer is a failed attempt.
	c := *cfg.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.Client = &c
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 10 * time.Minute
	}
	if cfg.FirstRetry <= 0 {
		cfg.FirstRetry = time.Second
	}
	if cfg.MaxRetry <= 0 {
		cfg.MaxRetry = time.Minute
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 8
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	s := &Sender{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), now: time.Now}
	go s.run()
	return s
}

// Send queues v (marshalled as JSON) for delivery and reports whether it
// was queued; it never blocks. A resolve replaces its firing when that is
// still queued; a full queue drops its oldest firing (see the package doc).
func (s *Sender) Send(v any) bool {
	body, err := json.Marshal(v)
	if err != nil {
		s.cfg.Logger.Error("webhook: cannot encode", "err", err)
		return false
	}
	if s.stopping() {
		s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
		return false // shutting down
	}
	d := doc{body: body, at: s.now()}
	d.key, d.resolve = alertKey(body)
	dropped := 0
	s.mu.Lock()
	if d.resolve {
		for i, q := range s.queue {
			if q.key == d.key && !q.resolve {
				// Its firing never left: the receiver learns the latest
				// state (resolved) without a page for what is over.
				s.queue = append(s.queue[:i], s.queue[i+1:]...)
				dropped++
				break
			}
		}
	}
	if len(s.queue) >= s.cfg.Queue {
		i := slices.IndexFunc(s.queue, func(q doc) bool { return !q.resolve })
		if i < 0 {
			i = 0 // nothing but resolves: the oldest goes
		}
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
		dropped++
	}
	s.queue = append(s.queue, d)
	s.mu.Unlock()
	if dropped > 0 {
		s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Add(float64(dropped))
		s.cfg.Logger.Warn("webhook: queue full or a firing resolved before it was sent; older alert dropped", "dropped", dropped)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// next takes the oldest queued document; false when none is.
func (s *Sender) next() (doc, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return doc{}, false
	}
	d := s.queue[0]
	s.queue[0] = doc{}
	s.queue = s.queue[1:]
	return d, true
}

// Shutdown stops the deliveries: what is still queued is dropped (and
// counted), a retry in progress ends. It returns when the goroutine ended,
// or with ctx's error.
func (s *Sender) Shutdown(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webhook: shutdown: %w", ctx.Err())
	}
}

func (s *Sender) run() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			s.mu.Lock()
			n := len(s.queue)
			s.queue = nil
			s.mu.Unlock()
			s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Add(float64(n))
			return
		case <-s.wake:
		}
		for {
			d, ok := s.next()
			if !ok {
				break
			}
			if s.stopping() {
				s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
				continue // the stop case drops the rest
			}
			s.deliver(d)
		}
	}
}

// deliver tries d up to Attempts times, waiting FirstRetry, doubling to
// MaxRetry, between tries, until d is MaxAge old.
func (s *Sender) deliver(d doc) {
	wait := s.cfg.FirstRetry
	deadline := d.at.Add(s.cfg.MaxAge)
	for attempt := 1; ; attempt++ {
		if s.now().After(deadline) {
			s.cfg.Metrics.Deliveries.WithLabelValues(Failed).Inc()
			s.cfg.Logger.Error("webhook: giving up on an alert: too old", "max_age", s.cfg.MaxAge, "attempts", attempt-1)
			return
		}
		err := s.post(d.body)
		if err == nil {
			s.cfg.Metrics.Attempts.WithLabelValues("ok").Inc()
			s.cfg.Metrics.Deliveries.WithLabelValues(Delivered).Inc()
			return
		}
		s.cfg.Metrics.Attempts.WithLabelValues("error").Inc()
		if s.stopping() {
			s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
			return
		}
		if attempt >= s.cfg.Attempts || s.now().Add(wait).After(deadline) {
			s.cfg.Metrics.Deliveries.WithLabelValues(Failed).Inc()
			s.cfg.Logger.Error("webhook: giving up on an alert", "attempts", attempt, "err", err)
			return
		}
		s.cfg.Logger.Warn("webhook: POST failed; retrying", "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-s.stop:
			t.Stop()
			s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
			return
		case <-t.C:
		}
		wait = min(2*wait, s.cfg.MaxRetry)
	}
}

func (s *Sender) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *Sender) post(body []byte) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel() // shutdown ends a slow POST
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "spinmatch-alerts")
	res, err := s.cfg.Client.Do(req)
	if err != nil {
		// Not the URL: a webhook URL often carries its own secret, and
		// these errors are logged (and, at error level, sent to Sentry).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook: post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("webhook: answered %d", res.StatusCode)
	}
	return nil
}
