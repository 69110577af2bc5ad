package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getsentry/sentry-go"
	sentryhttp "github.com/getsentry/sentry-go/http"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/gopool"
	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/persistence/memory"
	"github.com/spinmatch/spinmatch/persistence/pg"
	"github.com/spinmatch/spinmatch/transport"
	"github.com/spinmatch/spinmatch/transport/adminws"
	"github.com/spinmatch/spinmatch/transport/api"
	"github.com/spinmatch/spinmatch/transport/auth"
	"github.com/spinmatch/spinmatch/transport/clientip"
	"github.com/spinmatch/spinmatch/transport/statusws"
	"github.com/spinmatch/spinmatch/transport/web"
	"github.com/spinmatch/spinmatch/transport/webhook"
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
	webhook    *webhook.Sender // nil without ALERT_WEBHOOK_URL
	stopAlerts func()
	stopPace   func() // ends the GC pace (a no-op without cfg.GCPace)
	// front serves HTTP from the start: until the node has joined, it
	// answers /healthz, and 503 elsewhere (startingHandler); then the edge.
	front *frontHandler

	stopOnce sync.Once
	stopErr  error
}

// Start brings a node up and serves HTTP on cfg.Addr until Shutdown. HTTP
// listens first: while the store opens and the node looks for its seeds,
// /healthz answers 200 and everything else (/readyz included) 503. Start
// returns once the node has joined, or with an error.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Node, error) {
	log = withSentry(cfg, log)
	n := &Node{log: log, served: make(chan error, 1), front: &frontHandler{}}
	n.front.state.Store(&frontState{reason: "starting"})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, &configError{"SPIN_ADDR", fmt.Sprintf("cannot listen on %s: %v", cfg.Addr, err)}
	}
	n.ln = ln
	var handler http.Handler = n.front
	if cfg.SentryDSN != "" {
		// Performance: one transaction per request; panics are reported by OnPanic.
		handler = sentryhttp.New(sentryhttp.Options{}).Handle(handler)
	}
	n.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// A body (at most 64 KiB) must arrive within this: a client that
		// drips one cannot hold its in-flight slot and goroutine for long.
		// Sockets are unaffected: the upgrade clears the deadline.
		ReadTimeout: 15 * time.Second,
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { n.served <- n.srv.Serve(ln) }()
	if err := n.start(ctx, cfg); err != nil {
		_ = n.srv.Close()
		if n.verifier != nil {
			n.verifier.Close()
		}
		return nil, err
	}
	log.Info("spinmatch node up", "http", ln.Addr().String(), "actor_address", n.member.Address(),
		"memberlist", n.member.MemberlistAddr(), "development", cfg.Development)
	return n, nil
}

func (n *Node) start(ctx context.Context, cfg Config) error {
	log := n.log
	// First, so the Supabase key set is being fetched while the rest starts.
	v, err := auth.New(auth.Config{Secret: cfg.JWTSecret, SupabaseURL: cfg.SupabaseURL, Retry: cfg.JWKSRetry, Logger: log.With("component", "auth")})
	if err != nil {
		return &configError{"JWT_SECRET or SUPABASE_URL", "is required: " + err.Error()}
	}
	n.verifier = v
	log.Info("user tokens", "hs256", len(cfg.JWTSecret) > 0, "supabase_url", cfg.SupabaseURL)
	if cfg.DatabaseURL != "" {
		n.front.state.Store(&frontState{reason: "connecting to the database"})
		st, err := pg.Open(ctx, cfg.DatabaseURL, log.With("component", "pg"))
		if err != nil {
			return &configError{"DATABASE_URL", "cannot be used: " + err.Error()}
		}
		n.store, n.closeStore = st, st.Close
	} else {
		log.Warn("DATABASE_URL is not set: using the embedded in-memory store; NOTHING IS DURABLE (profiles, matches and votes vanish on restart)")
		n.store, n.closeStore = memory.New(), func() {}
	}
	if cfg.wrapStore != nil {
		n.store = cfg.wrapStore(n.store)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "spinmatch_pooled_goroutines_idle",
			Help: "Idle pooled goroutines kept for mailboxes and socket writers (bounded by 32 per CPU; part of go_goroutines).",
		}, func() float64 { return float64(gopool.Default.Idle()) }))
	metrics := actors.NewMetrics(reg)
	measured := actors.MeasureStore(n.store, metrics) // the grains' and the samples' calls
	_, embedded := n.store.(*memory.Store)            // not wrapped by a test to block or fail
	deps := &actors.Deps{
		Config:           cfg.Actors,
		Store:            grainStore(cfg, measured),
		StoreNeverBlocks: embedded,
		Logger:           log.With("component", "actors"),
		Metrics:          metrics,
		NodeName:         nodeName(cfg.Cluster.NodeName),
	}
	// The router exists before the cluster starts: other nodes may reach this
	// node's grains while it is still joining; they wait for Attach.
	deps.Router = actors.NewRouter(cfg.Actors, log.With("component", "router"), deps.Metrics)
	deps.Samples = actors.NewSampleWriter(measured, 4096, deps.Metrics, log.With("component", "samples"))
	n.samples = deps.Samples
	if cfg.SentryDSN != "" {
		deps.OnPanic = func(v any) { actors.CapturePanic(sentry.CurrentHub(), v, "grain") }
	}
	n.wireAlerts(cfg, deps, reg)
	cc := cfg.Cluster
	cc.Kinds = actors.Kinds(deps)
	cc.Logger = log.With("component", "cluster")
	cc.OnBlocked = func() {
		// The others no longer route to this node: send its users elsewhere.
		if st := n.front.state.Load(); st.next != nil {
			n.edge.CloseSockets()
		}
	}
	if len(cc.Join) > 0 {
		n.front.state.Store(&frontState{reason: "joining the cluster"})
	}
	member, err := cluster.Start(ctx, cc)
	if err != nil {
		_ = n.samples.Shutdown(ctx)
		n.closeStore()
		return clusterStartError(err)
	}
	n.member = member
	reg.MustRegister(member.Collectors()...)
	deps.Router.SetDepartures(member.LeftGracefully)
	n.sys = actors.NewSystem(member.Cluster(), deps)
	n.stopAlerts = n.sys.StartAlerts()
	n.stopPace = func() {}
	if cfg.GCPace {
		pctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); newGCPace(n.sys.Spins).run(pctx, gcPaceEvery) }()
		n.stopPace = func() { stop(); <-done }
	}

	edge := transport.NewHandler(transport.Config{
		API: api.Config{
			Development: cfg.Development,
			Ready:       n.ready,
			Members:     func() int { return len(n.member.Members()) },
			Live:        n.live,
			TestKey:     cfg.TestKey,
			NodeName:    func() string { return selfName(member, cfg.Cluster.NodeName) },
			Sentry:      sentryOn(cfg),
		},
		WS:          ws.Config{AllowedOrigins: cfg.AllowedOrigins, AuthWait: cfg.WSAuthWait},
		Gatherer:    reg,
		WSMetrics:   ws.NewMetrics(reg),
		Metrics:     transport.NewMetrics(reg),
		AdminKey:    cfg.AdminKey,
		Development: cfg.Development,
		ClientIP:    clientip.New(cfg.Limits.TrustedProxies, cfg.Limits.LimitExempt),
		Status:      statusws.Config{MaxWatchers: cfg.Status.Watchers, MaxPerAddress: cfg.Status.WatchersPerAddress},
		Web:         web.Config{Development: cfg.Development, SupabaseURL: cfg.SupabaseURL, SupabaseAnonKey: cfg.SupabaseAnonKey, SignInURL: cfg.SignInURL},
		OnPanic: func(r *http.Request, v any) {
			actors.CapturePanic(sentry.GetHubFromContext(r.Context()), v, "http")
		},
		AdminStream:  cfg.AdminStream,
		AdminMetrics: adminws.NewMetrics(reg),
	}, n.sys, n.verifier, log.With("component", "http"))
	n.edge = edge
	n.front.state.Store(&frontState{next: edge})
	if member.DeclaredDead() {
		edge.CloseSockets() // declared dead before the edge existed
	}
	return nil
}

// frontHandler is the HTTP server's handler: the node's edge once it is
// up, a starting page before. Safe for concurrent use.
type frontHandler struct {
	state atomic.Pointer[frontState]
}

// frontState is what frontHandler serves: next, or (while nil) 503 with reason.
type frontState struct {
	next   http.Handler
	reason string
}

// ServeHTTP serves r.
func (f *frontHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := f.state.Load()
	if st.next != nil {
		st.next.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	w.Header().Set("Retry-After", "1")
	if r.URL.Path == "/readyz" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "{\"status\":\"unavailable\",\"reason\":%q}\n", st.reason)
		return
	}
	api.WriteError(w, actors.CodeUnavailable, "This server is starting. Please try again in a moment.")
}

// errDeclaredDead is the /readyz and /healthz reason of a node the others
// declared dead: they blocked its member id, so only a restart (with a
// fresh actor system id) brings it back.
var errDeclaredDead = errors.New("the cluster declared this node dead; it must restart")

// live is /healthz: false only when a restart is the cure.
func (n *Node) live() error {
	if n.member.DeclaredDead() {
		return errDeclaredDead
	}
	return nil
}

// ready is /readyz: the store answers, this node has joined its cluster,
// and the Supabase key set (when configured) has been fetched.
func (n *Node) ready(ctx context.Context) error {
	if n.member.DeclaredDead() {
		return errDeclaredDead
	}
	if !n.member.Ready() {
		return errors.New("not joined to the cluster yet")
	}
	if err := n.store.Ping(ctx); err != nil {
		return errors.New("store unavailable")
	}
	return n.verifier.Ready() // the Supabase key set, when configured
}

// Addr returns the HTTP listen address.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Shutdown stops HTTP (closing sockets), leaves the cluster and closes the store.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.shutdown(ctx) })
	return n.stopErr
}

// Shutdown budget: the whole stop takes at most about 5 s whatever the
// load: REST requests in flight get httpDrain to finish, the cluster leave
// and stop get clusterStop, the wait-sample writer samplesFlush.
const (
	httpDrain    = 2 * time.Second
	clusterStop  = 2500 * time.Millisecond
	samplesFlush = 500 * time.Millisecond
)

// shutdown stops in order: user sockets are closed with 1001 (clients
// reconnect to another node, where their sessions restore from the store),
// HTTP drains, the node leaves the cluster (the others reroute at once),
// queued wait samples are written, the store closes.
func (n *Node) shutdown(ctx context.Context) error {
	n.edge.CloseSockets()
	hctx, cancel := context.WithTimeout(ctx, httpDrain)
	err := n.srv.Shutdown(hctx)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		_ = n.srv.Close()
		err = nil // in-flight requests were cut; clients retry
	}
	n.stopAlerts()
	n.stopPace()
	cctx, cancel := context.WithTimeout(ctx, clusterStop)
	err = errors.Join(err, n.member.Shutdown(cctx))
	cancel()
	n.sys.Router().Detach()
	sctx, cancel := context.WithTimeout(ctx, samplesFlush)
	err = errors.Join(err, n.samples.Shutdown(sctx))
	if n.webhook != nil {
		err = errors.Join(err, n.webhook.Shutdown(sctx))
	}
	cancel()
	n.closeStore()
	n.verifier.Close()
	return err
}
