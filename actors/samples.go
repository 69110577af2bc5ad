package actors

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/persistence"
)

// SampleWriter writes wait samples to the store off the pools' paths:
// samples feed statistics only, so a slow or failing store must never stall
// pairing. Pools hand samples over with Add, which never blocks; one
// goroutine writes them. The queue is bounded: when it is full (the store is
// down or slow) new samples are dropped and counted.
type SampleWriter struct {
	store   Store              // static
	log     *slog.Logger       // static
	dropped prometheus.Counter // static
	failed  prometheus.Counter // static

	queue chan persistence.WaitSample // bounded; read only by run
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// NewSampleWriter starts a writer with room for capacity pending samples.
func NewSampleWriter(store Store, capacity int, m *Metrics, log *slog.Logger) *SampleWriter {
	w := &SampleWriter{
		store:   store,
		log:     log,
		dropped: m.SamplesDropped,
		failed:  m.StoreErrors.WithLabelValues("wait_sample"),
		queue:   make(chan persistence.WaitSample, capacity),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go w.run()
	return w
}

// Add queues a sample; when the queue is full the sample is dropped.
func (w *SampleWriter) Add(s persistence.WaitSample) {
	select {
	case w.queue <- s:
	default:
		w.dropped.Inc()
	}
}

func (w *SampleWriter) run() {
	defer close(w.done)
	for {
		select {
		case s := <-w.queue:
			w.write(s)
		case <-w.stop:
			// Flush what is queued, each write still bounded by its timeout.
			for {
				select {
				case s := <-w.queue:
					w.write(s)
				default:
					return
				}
			}
		}
	}
}

func (w *SampleWriter) write(s persistence.WaitSample) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := w.store.RecordWaitSample(ctx, s); err != nil {
		w.failed.Inc()
		w.log.Debug("wait sample not written", "err", err)
	}
}

// Shutdown writes what is queued and stops, or gives up when ctx ends.
func (w *SampleWriter) Shutdown(ctx context.Context) error {
	w.once.Do(func() { close(w.stop) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
