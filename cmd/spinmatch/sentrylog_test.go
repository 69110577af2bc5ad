package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/getsentry/sentry-go"
)

// logHub returns a hub whose client records its events, and a context
// that carries it.
func logHub(t *testing.T) (*sentry.MockTransport, context.Context) {
	t.Helper()
	tr := &sentry.MockTransport{}
	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: "http://k@127.0.0.1:1/1", Transport: tr, MaxBreadcrumbs: 3})
	if err != nil {
		t.Fatal(err)
	}
	hub := sentry.NewHub(client, sentry.NewScope())
	return tr, sentry.SetHubOnContext(context.Background(), hub)
}

func TestSentryHandler(t *testing.T) {
	tr, ctx := logHub(t)
	var out bytes.Buffer
	inner := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})
	log := slog.New(newSentryHandler(inner)).With("component", "actors").WithGroup("g")

	log.DebugContext(ctx, "not for sentry")
	log.InfoContext(ctx, "queued", "pool", "eu")
	log.WarnContext(ctx, "slow", "ms", 12)
	log.ErrorContext(ctx, "store failed", "err", errors.New("boom"), slog.Group("q", "user", "u1"))

	if s := out.String(); strings.Contains(s, "queued") || !strings.Contains(s, "slow") || !strings.Contains(s, "store failed") {
		t.Errorf("the inner handler's level no longer applies: %s", s)
	}
	evs := tr.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want the one error", len(evs))
	}
	ev := evs[0]
	if ev.Message != "store failed" || ev.Level != sentry.LevelError || len(ev.Threads) == 0 || ev.Threads[0].Stacktrace == nil {
		t.Fatalf("event %q level %q threads %d", ev.Message, ev.Level, len(ev.Threads))
	}
	l := ev.Contexts["log"]
	if l["component"] != "actors" || l["g.err"] != "boom" || l["g.q.user"] != "u1" {
		t.Errorf("event attributes %v", l)
	}
	var crumbs []string
	for _, b := range ev.Breadcrumbs {
		crumbs = append(crumbs, b.Message+":"+string(b.Level))
	}
	if strings.Join(crumbs, ",") != "queued:info,slow:warning" {
		t.Errorf("breadcrumbs %v, want info and warn records", crumbs)
	}

	// Bounded: the hub keeps the last MaxBreadcrumbs.
	for range 10 {
		log.InfoContext(ctx, "again")
	}
	log.ErrorContext(ctx, "second")
	if evs = tr.Events(); len(evs) != 2 || len(evs[1].Breadcrumbs) != 3 {
		t.Fatalf("breadcrumbs not bounded: %d events, last has %d", len(evs), len(evs[len(evs)-1].Breadcrumbs))
	}

	// An error already reported (a panic captured with its stack) is a
	// breadcrumb, not a second event.
	slog.New(newSentryHandler(inner)).ErrorContext(ctx, "grain panic", "reported", true)
	if evs = tr.Events(); len(evs) != 2 {
		t.Fatalf("a reported error became an event too")
	}
}

func TestSentryHandlerOff(t *testing.T) {
	var out bytes.Buffer
	h := newSentryHandler(slog.NewTextHandler(&out, nil))
	// No client on the current hub (Sentry off): records only pass through.
	slog.New(h).Error("x", "k", "v")
	if !strings.Contains(out.String(), "k=v") {
		t.Fatalf("record not passed on: %q", out.String())
	}
}
