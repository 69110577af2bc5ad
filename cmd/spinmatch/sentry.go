package main

import (
	"log/slog"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/spinmatch/spinmatch/actors"
)

// sentryFlush bounds how long the last events may take to leave at shutdown.
const sentryFlush = 2 * time.Second

// setupSentry starts the Sentry client when SENTRY_DSN is set (README,
// Sentry) and returns the function that flushes its events at shutdown (a
// no-op when Sentry is off). Every event and transaction is scrubbed of
// tokens and keys before it leaves (scrubber).
func setupSentry(cfg Config) (flush func(), err error) {
	if cfg.SentryDSN == "" {
		return func() {}, nil
	}
	sc := newScrubber(configSecrets(cfg)...)
	// The SDK reads a sample rate of 0 as 1 (its historical default); 0
	// here means no error events at all.
	noErrors := cfg.SentrySample == 0
	env := cfg.SentryEnv
	if env == "" {
		env = envMode(cfg.Development)
	}
	err = sentry.Init(sentry.ClientOptions{
		Dsn:              cfg.SentryDSN,
		Environment:      env,
		Release:          cfg.SentryRelease,
		SampleRate:       cfg.SentrySample,
		EnableTracing:    cfg.SentryTraces > 0,
		TracesSampleRate: cfg.SentryTraces,
		AttachStacktrace: true,
		MaxBreadcrumbs:   maxBreadcrumbs,
		BeforeSend: func(e *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			if noErrors {
				return nil
			}
			return sc.event(e)
		},
		BeforeSendTransaction: func(e *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			return sc.event(e)
		},
	})
	if err != nil {
		return nil, &configError{"SENTRY_DSN", "is invalid: " + err.Error()}
	}
	return func() { sentry.Flush(sentryFlush) }, nil
}

// maxBreadcrumbs bounds the breadcrumbs a hub keeps (and an event carries).
const maxBreadcrumbs = 50

// sentryOn reports whether this node reports to Sentry (setupSentry ran
// with a DSN).
func sentryOn(cfg Config) bool { return cfg.SentryDSN != "" }

// withSentry returns log, and with Sentry on a logger that also reports
// to it (sentryHandler).
func withSentry(cfg Config, log *slog.Logger) *slog.Logger {
	if !sentryOn(cfg) {
		return log
	}
	return slog.New(newSentryHandler(log.Handler()))
}

// grainStore is the store the grains use: st, with Sentry tracing on
// wrapped so that store calls become spans (actors.TraceStore).
func grainStore(cfg Config, st actors.Store) actors.Store {
	if !sentryOn(cfg) || cfg.SentryTraces <= 0 {
		return st
	}
	return actors.TraceStore(st)
}
