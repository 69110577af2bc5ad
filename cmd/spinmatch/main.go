// Command spinmatch runs one Spinmatch node: it reads the configuration from
// the environment (PROTOCOL.md, Configuration), wires the store, the
// cluster member, the grains and the HTTP edge, and runs until SIGINT or
// SIGTERM, then shuts down in order.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "spinmatch:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return &configError{"SPIN_LOG_LEVEL", "must be debug, info, warn or error"}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if cfg.JWTGenerated {
		log.Warn("JWT_SECRET is not set: using a random development secret; tokens will not survive a restart")
	}
	flushSentry, err := setupSentry(cfg)
	if err != nil {
		return err
	}
	defer flushSentry() // after the shutdown below: its errors are sent too

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-node.served:
		log.Error("http server stopped", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return node.Shutdown(sctx)
}
