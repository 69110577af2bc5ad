package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestMemberlistLogLevels(t *testing.T) {
	tests := []struct {
		name, line, want string
		logged           bool
	}{
		{"debug dropped", "[DEBUG] memberlist: Stream connection from=127.0.0.1:1\n", "", false},
		{"info dropped", "[INFO] memberlist: Suspect n2 has failed\n", "", false},
		{"warn kept", "[WARN] memberlist: Refuting a suspect message\n", "level=WARN msg=\"memberlist: Refuting a suspect message\"", true},
		{"err kept", "[ERR] memberlist: Failed to send ping\n", "level=ERROR msg=\"memberlist: Failed to send ping\"", true},
		{"no prefix is info", "plain line\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
			l := newMemberlistLogger(slog.New(levelHandler{min: slog.LevelWarn, next: base}), nil)
			l.Print(tt.line)
			got := buf.String()
			if tt.logged != (got != "") || !strings.Contains(got, tt.want) {
				t.Fatalf("logged %q, want %q (logged=%v)", got, tt.want, tt.logged)
			}
		})
	}
}

func TestMemberlistLoggerCountsRefutations(t *testing.T) {
	h := &health{}
	l := newMemberlistLogger(slog.New(slog.DiscardHandler), h)
	l.Print("[WARN] memberlist: Refuting a suspect message (from: n2)\n")
	l.Print("[WARN] memberlist: Refuting a suspect message (from: n3)\n")
	if h.suspected.Load() != 2 || h.declaredDead.Load() {
		t.Fatalf("after two suspicions: suspected %d, dead %v", h.suspected.Load(), h.declaredDead.Load())
	}
	l.Print("[WARN] memberlist: Refuting a dead message (from: n2)\n")
	if !h.declaredDead.Load() {
		t.Fatal("a refuted death did not mark the node dead")
	}
}

func TestLevelHandlerKeepsMinOnDerived(t *testing.T) {
	var buf bytes.Buffer
	h := levelHandler{min: slog.LevelWarn, next: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})}
	l := slog.New(h).With("a", 1).WithGroup("g")
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Fatalf("output %q", buf.String())
	}
	if h.Enabled(context.Background(), slog.LevelInfo) {
		t.Fatal("info enabled under a warn minimum")
	}
}
