package cluster

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"
)

// levelHandler drops records below min before they reach next; it gives
// protoactor and memberlist their own, quieter level on the caller's
// handler.
type levelHandler struct {
	min  slog.Level
	next slog.Handler
}

var _ slog.Handler = levelHandler{}

// Enabled reports whether l passes both min and next.
func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

// Handle passes r to next; Enabled has already filtered it.
func (h levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

// WithAttrs keeps min on the derived handler.
func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

// WithGroup keeps min on the derived handler.
func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{min: h.min, next: h.next.WithGroup(name)}
}

// memberlistLevels maps memberlist's line prefixes to slog levels.
var memberlistLevels = [...]struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// memberlistWriter turns memberlist's "[LEVEL] memberlist: text" lines
// into slog records. log.Logger serialises calls to Write. When health is
// set, it also counts the lines in which memberlist refutes a suspicion or
// a death of this node: memberlist says so only in its log.
type memberlistWriter struct {
	logger *slog.Logger
	health *health // may be nil
}

// Write logs one memberlist line at its own level; it never fails.
func (w memberlistWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for _, l := range memberlistLevels {
		if rest, ok := strings.CutPrefix(line, l.prefix); ok {
			line, level = strings.TrimSpace(rest), l.level
			break
		}
	}
	if w.health != nil {
		switch {
		case strings.Contains(line, "Refuting a suspect message"):
			w.health.suspected.Add(1)
		case strings.Contains(line, "Refuting a dead message"):
			w.health.declaredDead.Store(true)
		}
	}
	ctx := context.Background()
	if w.logger.Enabled(ctx, level) {
		w.logger.Log(ctx, level, line)
	}
	return len(p), nil
}

// newMemberlistLogger adapts logger to the *log.Logger memberlist wants;
// health (may be nil) counts refuted suspicions and deaths.
func newMemberlistLogger(logger *slog.Logger, health *health) *log.Logger {
	return log.New(memberlistWriter{logger: logger, health: health}, "", 0)
}

// health is what memberlist told this node about itself. Safe for
// concurrent use.
type health struct {
	// suspected counts the times another member suspected this node and it
	// refuted (a false suspicion: the node was alive).
	suspected atomic.Int64
	// declaredDead is set once another member declared this node dead: the
	// others have then removed (and protoactor has blocked) its member id,
	// so the node must restart with a new one.
	declaredDead atomic.Bool
	// told is set once the node has logged its death and told its owner.
	told atomic.Bool
}
