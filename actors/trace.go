package actors

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/getsentry/sentry-go"
	"google.golang.org/protobuf/proto"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// Tracing (Sentry). A caller that holds a span (a REST request's
// transaction, a socket command's) sends its trace with the command
// (msg.Command trace and baggage, filled by Ask or by the socket); the
// UserSession continues it as a transaction around the command's
// handling, so the grain requests it makes (Ask: op "grain.request") and
// its store calls (TraceStore: op "db") are spans of the same trace,
// whichever node the session lives on. Without a trace nothing here
// allocates: a command without one is handled as before, and Ask and the
// store look for a span in their context and find none.

// CommandName returns the short name of a command's kind ("spin",
// "cancel", "status", "vote", "signal"), for transaction names.
func CommandName(cmd *msg.Command) string {
	switch cmd.GetKind().(type) {
	case *msg.Command_Spin:
		return "spin"
	case *msg.Command_Cancel:
		return "cancel"
	case *msg.Command_Status:
		return "status"
	case *msg.Command_Vote:
		return "vote"
	case *msg.Command_Signal:
		return "signal"
	}
	return "unknown"
}

// SetTrace fills cmd's trace fields from span (nil: left empty).
func SetTrace(cmd *msg.Command, span *sentry.Span) {
	if span == nil {
		return
	}
	cmd.Trace, cmd.Baggage = span.ToSentryTrace(), span.ToBaggage()
}

// sampled reports whether ctx carries a span that is sent: an unsampled
// transaction (tracing off, or not picked by the sample rate) gets no
// child spans and passes no trace on.
func sampled(ctx context.Context) bool {
	span := sentry.SpanFromContext(ctx)
	return span != nil && span.Sampled.Bool()
}

// grainSpan starts the span of a grain request when ctx carries a span
// (nil otherwise); a command sent under it carries its trace.
func grainSpan(ctx context.Context, kind string, m proto.Message) *sentry.Span {
	if !sampled(ctx) {
		return nil
	}
	span := sentry.StartSpan(ctx, "grain.request",
		sentry.WithDescription(kind+" "+string(m.ProtoReflect().Descriptor().Name())))
	span.SetData("grain.kind", kind)
	if cmd, ok := m.(*msg.Command); ok {
		SetTrace(cmd, span)
	}
	return span
}

// traced handles cmd inside a transaction (op "session.command") that
// continues the caller's trace, on a hub of its own tagged with the user:
// the session's grain requests and store calls are its spans, its
// transitions its breadcrumbs (crumb).
func (s *session) traced(ctx actor.Context, cmd *msg.Command) {
	// A fresh scope: the transaction's breadcrumbs are this command's.
	hub := sentry.NewHub(sentry.CurrentHub().Client(), sentry.NewScope())
	hub.Scope().SetTag("user_id", s.userID)
	hub.Scope().SetUser(sentry.User{ID: s.userID})
	tx := sentry.StartTransaction(sentry.SetHubOnContext(context.Background(), hub), "UserSession "+CommandName(cmd),
		sentry.ContinueFromHeaders(cmd.Trace, cmd.Baggage),
		sentry.WithOpName("session.command"),
		sentry.WithTransactionSource(sentry.SourceTask))
	s.tctx, s.hub = tx.Context(), hub
	defer func() {
		s.tctx, s.hub = nil, nil
		tx.Finish()
	}()
	s.handle(ctx, cmd)
}

// base is the context the session's grain requests and store calls derive
// from: the traced command's, or none.
func (s *session) base() context.Context {
	if s.tctx != nil {
		return s.tctx
	}
	return context.Background()
}

// crumb records a transition (queued, match_found, ...) as a breadcrumb of
// the traced command's transaction; kv are key, value pairs. A no-op
// outside a traced command.
func (s *session) crumb(message string, kv ...string) {
	if s.hub == nil {
		return
	}
	data := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i]] = kv[i+1]
	}
	s.hub.AddBreadcrumb(&sentry.Breadcrumb{Category: "session", Message: message, Data: data, Level: sentry.LevelInfo}, nil)
}

// CapturePanic reports a recovered panic v to hub (nil: nothing) as an
// event of level fatal with the stack of the panicking goroutine: call it
// from the deferred function that recovered v, where that stack is still
// the current one. where tags the event ("grain", "ws.reader", ...).
func CapturePanic(hub *sentry.Hub, v any, where string) {
	if hub == nil || hub.Client() == nil {
		return
	}
	err, ok := v.(error)
	if !ok {
		err = fmt.Errorf("panic: %v", v)
	}
	ev := hub.Client().EventFromException(err, sentry.LevelFatal)
	ev.Tags = map[string]string{"panic": where}
	hub.CaptureEvent(ev)
}
