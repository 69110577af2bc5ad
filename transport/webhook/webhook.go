// Package webhook POSTs JSON documents (the alert changes) to one
// configured URL, retrying with backoff, from its own goroutine: Send never
// blocks its caller and never waits on HTTP. The queue is bounded; when it
// is full a document is dropped and counted. A Sender is safe for
// concurrent use; its delivery goroutine owns the documents it dequeued.
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
	// Logger; nil means slog.Default.
	Logger *slog.Logger
	// Metrics; nil means unregistered instruments.
	Metrics *Metrics
}

// Metrics are the Sender's instruments.
type Metrics struct {
	// Deliveries counts documents by result: delivered, failed (gave up
	// after Attempts) or dropped (the queue was full, or shutdown).
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
	cfg   Config // static after New
	queue chan []byte
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// New starts a Sender.
func New(cfg Config) *Sender {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
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
	s := &Sender{cfg: cfg, queue: make(chan []byte, cfg.Queue), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// Send queues v (marshalled as JSON) for delivery and reports whether it
// was queued; it never blocks.
func (s *Sender) Send(v any) bool {
	body, err := json.Marshal(v)
	if err != nil {
		s.cfg.Logger.Error("webhook: cannot encode", "err", err)
		return false
	}
	select {
	case <-s.stop:
		s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
		return false // shutting down
	default:
	}
	select {
	case s.queue <- body:
		return true
	default:
	}
	s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
	s.cfg.Logger.Warn("webhook: queue full; alert dropped")
	return false
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
			for {
				select {
				case <-s.queue:
					s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
				default:
					return
				}
			}
		case body := <-s.queue:
			if s.stopping() {
				s.cfg.Metrics.Deliveries.WithLabelValues(Dropped).Inc()
				continue // the stop case drains the rest
			}
			s.deliver(body)
		}
	}
}

// deliver tries body up to Attempts times, waiting FirstRetry, doubling to
// MaxRetry, between tries.
func (s *Sender) deliver(body []byte) {
	wait := s.cfg.FirstRetry
	for attempt := 1; ; attempt++ {
		err := s.post(body)
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
		if attempt >= s.cfg.Attempts {
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
