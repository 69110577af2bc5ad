package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"
	sentryhttp "github.com/getsentry/sentry-go/http"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/persistence/memory"
	"github.com/spinmatch/spinmatch/persistence/pg"
	"github.com/spinmatch/spinmatch/transport"
	"github.com/spinmatch/spinmatch/transport/api"
	"github.com/spinmatch/spinmatch/transport/auth"
	"github.com/spinmatch/spinmatch/transport/ws"
)

// Node is one running Spinmatch node: store, cluster member, grains and the
// HTTP edge. Static after Start.
type Node struct {
	log        *slog.Logger
	store      actors.Store
	closeStore func()
	member     *cluster.Node
	sys        *actors.System
	verifier   *auth.Verifier
	srv        *http.Server
	ln         net.Listener
	served     chan error
	edge       *transport.Edge
	samples    *actors.SampleWriter

	stopOnce sync.Once
	stopErr  error
}

// Start brings a node up and serves HTTP on cfg.Addr until Shutdown.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Node, error) {
	n := &Node{log: log, served: make(chan error, 1)}
	if cfg.DatabaseURL != "" {
		st, err := pg.Open(ctx, cfg.DatabaseURL, log.With("component", "pg"))
		if err != nil {
			return nil, fmt.Errorf("start: database: %w", err)
		}
		n.store, n.closeStore = st, st.Close
	} else {
		log.Warn("DATABASE_URL is not set: using the embedded in-memory store; NOTHING IS DURABLE (profiles, matches and votes vanish on restart)")
		n.store, n.closeStore = memory.New(), func() {}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deps := &actors.Deps{
		Config:  cfg.Actors,
		Store:   n.store,
		Logger:  log.With("component", "actors"),
		Metrics: actors.NewMetrics(reg),
	}
	// The router exists before the cluster starts: other nodes may reach this
	// node's grains while it is still joining; they wait for Attach.
	deps.Router = actors.NewRouter(cfg.Actors, log.With("component", "router"), deps.Metrics)
	deps.Samples = actors.NewSampleWriter(n.store, 4096, deps.Metrics, log.With("component", "samples"))
	n.samples = deps.Samples
	if cfg.SentryDSN != "" {
		deps.OnPanic = func(v any) { sentry.CurrentHub().Recover(v) }
	}
	cc := cfg.Cluster
	cc.Kinds = actors.Kinds(deps)
	cc.Logger = log.With("component", "cluster")
	member, err := cluster.Start(ctx, cc)
	if err != nil {
		_ = n.samples.Shutdown(ctx)
		n.closeStore()
		return nil, fmt.Errorf("start: cluster: %w", err)
	}
	n.member = member
	n.sys = actors.NewSystem(member.Cluster(), deps)
	n.verifier = auth.NewVerifier(cfg.JWTSecret)

	edge := transport.NewHandler(transport.Config{
		API: api.Config{
			Development: cfg.Development,
			Ready:       n.ready,
		},
		WS:        ws.Config{AllowedOrigins: cfg.AllowedOrigins, Reattach: cfg.Actors.Refresh},
		Gatherer:  reg,
		WSMetrics: ws.NewMetrics(reg),
		OnPanic: func(r *http.Request, v any) {
			if hub := sentry.GetHubFromContext(r.Context()); hub != nil {
				hub.Recover(v)
			}
		},
	}, n.sys, n.verifier, log.With("component", "http"))
	n.edge = edge
	var handler http.Handler = edge
	if cfg.SentryDSN != "" {
		// Performance: one transaction per request; panics are reported by OnPanic.
		handler = sentryhttp.New(sentryhttp.Options{}).Handle(handler)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = member.Shutdown(context.Background())
		_ = n.samples.Shutdown(ctx)
		n.closeStore()
		return nil, fmt.Errorf("start: listen %s: %w", cfg.Addr, err)
	}
	n.ln = ln
	n.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { n.served <- n.srv.Serve(ln) }()
	log.Info("spinmatch node up", "http", ln.Addr().String(), "actor_address", member.Address(),
		"memberlist", member.MemberlistAddr(), "development", cfg.Development)
	return n, nil
}

// ready is /readyz: the store answers and this node has joined its cluster.
func (n *Node) ready(ctx context.Context) error {
	if !n.member.Ready() {
		return errors.New("not joined to the cluster yet")
	}
	if err := n.store.Ping(ctx); err != nil {
		return errors.New("store unavailable")
	}
	return nil
}

// Addr returns the HTTP listen address.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Shutdown stops HTTP (closing sockets), leaves the cluster and closes the store.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.shutdown(ctx) })
	return n.stopErr
}

func (n *Node) shutdown(ctx context.Context) error {
	n.edge.CloseSockets()
	err := n.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = n.srv.Close()
	}
	err = errors.Join(err, n.member.Shutdown(ctx), n.samples.Shutdown(ctx))
	n.closeStore()
	return err
}
