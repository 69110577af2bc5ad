package main

import (
	"context"
	"log/slog"
	"slices"

	"github.com/getsentry/sentry-go"
)

// sentryHandler is a slog.Handler that passes every record on to next and
// also tells Sentry of it: a record at Error or above becomes an event (its
// message, its attributes in the event's "log" context, the stack where it
// was logged), Info and Warn records become breadcrumbs (the hub keeps the
// last maxBreadcrumbs). The hub is the one in the record's context, else
// the current one. A record with the attribute reported=true (a panic
// already captured with its stack) is a breadcrumb, not a second event.
// Scrubbing happens once, in BeforeSend. Immutable; safe for concurrent use.
type sentryHandler struct {
	next   slog.Handler
	attrs  []slog.Attr // from WithAttrs, keys prefixed with their groups
	prefix string      // the open groups, "a.b."
}

func newSentryHandler(next slog.Handler) *sentryHandler { return &sentryHandler{next: next} }

// Enabled reports whether next wants the level, or Sentry does (Info and up).
func (h *sentryHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

// Handle passes r to next (when it wants it) and reports it to Sentry.
func (h *sentryHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < slog.LevelInfo {
		return err
	}
	// A record logged with a request's or socket's context goes to that
	// hub (its breadcrumbs are that user's story). One without goes to the
	// global hub as an event only: breadcrumbs there would mix every
	// user's lines into the next event.
	hub := sentry.GetHubFromContext(ctx)
	own := hub != nil
	if !own {
		hub = sentry.CurrentHub()
	}
	if hub.Client() == nil {
		return err
	}
	if !own && r.Level < slog.LevelError {
		return err
	}
	data, reported := h.data(r)
	if r.Level >= slog.LevelError && !reported {
		ev := sentry.NewEvent()
		ev.Level = sentry.LevelError
		ev.Message = r.Message
		ev.Logger = "slog"
		ev.Timestamp = r.Time
		ev.Contexts["log"] = data
		ev.Threads = []sentry.Thread{{Stacktrace: sentry.NewStacktrace(), Current: true}}
		hub.CaptureEvent(ev)
		return err
	}
	hub.AddBreadcrumb(&sentry.Breadcrumb{
		Type: "default", Category: "log", Message: r.Message, Data: data,
		Level: crumbLevel(r.Level), Timestamp: r.Time,
	}, nil)
	return err
}

// data returns the record's attributes (and the handler's) as strings by
// key, and whether the record says it was reported already.
func (h *sentryHandler) data(r slog.Record) (map[string]any, bool) {
	data := make(map[string]any, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		addAttr(data, "", a)
	}
	reported := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reported" && h.prefix == "" {
			reported = a.Value.Resolve().Kind() == slog.KindBool && a.Value.Bool()
		}
		addAttr(data, h.prefix, a)
		return true
	})
	return data, reported
}

// addAttr adds a (groups flattened into dotted keys) to data.
func addAttr(data map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			addAttr(data, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	data[prefix+a.Key] = v.String()
}

func crumbLevel(l slog.Level) sentry.Level {
	switch {
	case l >= slog.LevelError:
		return sentry.LevelError
	case l >= slog.LevelWarn:
		return sentry.LevelWarning
	}
	return sentry.LevelInfo
}

// WithAttrs returns a handler whose records carry attrs too.
func (h *sentryHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = slices.Clip(h.attrs)
	for _, a := range attrs {
		a.Key = h.prefix + a.Key
		c.attrs = append(c.attrs, a)
	}
	return &c
}

// WithGroup returns a handler that puts later attributes in group name.
func (h *sentryHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}
