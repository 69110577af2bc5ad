package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc"
)

// Node is one running cluster member: an actor system with remoting, the
// protoactor cluster on top of it and the memberlist pool that feeds its
// topology.
type Node struct {
	// Static after Start.
	logger         *slog.Logger
	system         *actor.ActorSystem
	cluster        *protocluster.Cluster
	prov           *provider
	memberlistAddr string
	remoteStats    *remoteStats

	onBlocked func()        // static; see Config.OnBlocked
	stopWatch chan struct{} // closed by Shutdown: stops watchBlocked

	shutdownOnce sync.Once
	shutdownErr  error // written once inside shutdownOnce
}

// remoteWindow is the HTTP/2 flow-control window (per stream and per
// connection) of the actor remote's gRPC connections. Setting one turns
// off gRPC's dynamic window, whose bandwidth-delay estimator answers
// nearly every data frame of a lightly loaded stream with a window update
// and a ping that the other side must answer: at a few hundred spins a
// second each cross-node message cost three writes and three reads
// instead of one each (docs/DESIGN.md, Three nodes). The remote carries
// small messages on one long-lived stream per pair of nodes; 1 MiB is
// well past what loopback or a LAN keeps in flight between them.
const remoteWindow = 1 << 20

// Start brings a node up: it binds memberlist, starts the actor system's
// remote (resolving port 0), starts the protoactor cluster member with
// the placement identity lookup (placement.go), then joins cfg.Join, retrying until ctx is done.
// protoactor's own startup sleeps about a second.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	const op = "cluster: start"
	s, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	logger := s.Logger.With(slog.String("node", s.NodeName))
	libLogger := slog.New(levelHandler{min: s.ActorLogLevel, next: s.Logger.Handler()}).
		With(slog.String("node", s.NodeName))

	transport, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{s.bindHost},
		BindPort:  s.bindPort,
		Logger:    newMemberlistLogger(libLogger.With(slog.String("lib", "memberlist")), nil),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: bind memberlist %s: %w", op, s.Bind, err)
	}
	advHost, advPort := s.bindHost, transport.GetAutoBindPort()
	if s.Advertise != "" {
		host, port, _ := splitHostPort(s.Advertise) // validated by withDefaults
		advHost = host
		if port != 0 {
			advPort = port
		}
	}
	prov := newProvider(s, transport, advHost, advPort, libLogger.With(slog.String("lib", "memberlist")))

	system := actor.NewActorSystem(actor.WithLoggerFactory(func(as *actor.ActorSystem) *slog.Logger {
		return libLogger.With(slog.String("lib", "protoactor"), slog.String("system", as.ID))
	}))
	// One connection attempt per endpoint instead of protoactor's five with
	// 2 s sleeps: an endpoint writer to a dead node is stuck in those
	// retries, and a node restarted at the same address would get nothing
	// for ~10 s. After one failed attempt the endpoint is dropped, and the
	// next message opens a fresh one.
	remoteOpts := []remote.ConfigOption{func(c *remote.Config) { c.MaxRetryCount = 1 }}
	if s.auth != nil {
		remoteOpts = append(remoteOpts, s.auth.remoteOptions()...)
	}
	// After the credentials (WithDialOptions and WithServerOptions replace
	// their lists): the traffic counters, and fixed flow-control windows.
	rstats := newRemoteStats()
	remoteOpts = append(remoteOpts, func(c *remote.Config) {
		c.DialOptions = append(c.DialOptions, grpc.WithStatsHandler(rstats),
			grpc.WithInitialWindowSize(remoteWindow), grpc.WithInitialConnWindowSize(remoteWindow))
		c.ServerOptions = append(c.ServerOptions,
			grpc.InitialWindowSize(remoteWindow), grpc.InitialConnWindowSize(remoteWindow))
	})
	if isUnspecified(s.remoteHost) {
		remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(net.JoinHostPort(advHost, strconv.Itoa(s.remotePort))))
	}
	clusterOpts := []protocluster.ConfigOption{
		protocluster.WithKinds(s.Kinds...),
		protocluster.WithRequestTimeout(s.RequestTimeout),
	}
	if s.HeartbeatExpiration > 0 {
		clusterOpts = append(clusterOpts, protocluster.WithHeartbeatExpiration(s.HeartbeatExpiration))
	}
	clusterCfg := protocluster.Configure(s.Name, prov, newPlacement(),
		remote.Configure(s.remoteHost, s.remotePort, remoteOpts...), clusterOpts...)
	c := protocluster.New(system, clusterCfg)
	if err := startMember(c); err != nil {
		_ = prov.leave(-1)
		stopQuietly(c)
		_ = transport.Shutdown() // idempotent after memberlist's own shutdown
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	n := &Node{
		logger:         logger,
		system:         system,
		cluster:        c,
		prov:           prov,
		memberlistAddr: net.JoinHostPort(advHost, strconv.Itoa(advPort)),
		onBlocked:      s.OnBlocked,
		stopWatch:      make(chan struct{}),
		remoteStats:    rstats,
	}
	if err := startBlockCheck(c); err != nil {
		logger.Warn("cluster: block-list actor not started", slog.Any("error", err))
	}
	go n.watchBlocked(s.ResyncInterval, n.stopWatch)
	if len(s.Join) > 0 {
		if err := n.join(ctx, s.Join); err != nil {
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return nil, errors.Join(fmt.Errorf("%s: %w", op, err), n.Shutdown(shutdownCtx))
		}
	}
	logger.Info("cluster: node started",
		slog.String("id", system.ID), slog.String("address", system.Address()),
		slog.String("memberlist", n.memberlistAddr), slog.Int("seeds", len(s.Join)),
		slog.Bool("encrypted", s.auth != nil), slog.Int("keys", len(s.Keys)))
	return n, nil
}

// startMember runs protoactor's StartMember, which panics on any failure
// (remote listen, provider error); the panic becomes an error.
func startMember(c *protocluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("protoactor start member: %w", e)
				return
			}
			err = fmt.Errorf("protoactor start member: %v", r)
		}
	}()
	c.StartMember()
	return nil
}

// stopQuietly tears down a cluster whose start failed part-way; protoactor
// may panic on the parts that never started.
func stopQuietly(c *protocluster.Cluster) {
	defer func() { _ = recover() }()
	c.Shutdown(false)
}

// join contacts the seeds until one answers or ctx is done.
func (n *Node) join(ctx context.Context, seeds []string) error {
	retry := time.NewTimer(0)
	defer retry.Stop()
	var last error // the last round's failure, for the error (a wrong cluster key shows there)
	for {
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("join %v: %w; last attempt: %s", seeds, ctx.Err(), oneLine(last.Error()))
			}
			return fmt.Errorf("join %v: %w", seeds, ctx.Err())
		case <-retry.C:
		}
		contacted, err := n.prov.list.Join(seeds)
		last = err
		if err == nil {
			n.logger.Debug("cluster: joined", slog.Int("contacted", contacted))
			return nil
		}
		n.logger.Warn("cluster: join failed, retrying", slog.Any("seeds", seeds), slog.Any("error", err))
		retry.Reset(joinRetryInterval)
	}
}

// oneLine joins the lines of memberlist's multi-line errors.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Cluster returns the protoactor cluster, for grain requests.
func (n *Node) Cluster() *protocluster.Cluster { return n.cluster }

// System returns the node's actor system.
func (n *Node) System() *actor.ActorSystem { return n.system }

// ID returns the actor system id, which is this node's cluster member id.
func (n *Node) ID() string { return n.system.ID }

// Address returns the actor system address host:port.
func (n *Node) Address() string { return n.system.Address() }

// MemberlistAddr returns the resolved memberlist host:port, for other
// nodes' Join.
func (n *Node) MemberlistAddr() string { return n.memberlistAddr }

// Ready reports whether this node is in the cluster topology it sees and
// has not been declared dead by the others (see DeclaredDead).
func (n *Node) Ready() bool {
	return !n.DeclaredDead() && containsID(n.prov.members(), n.system.ID)
}

// DeclaredDead reports whether another member declared this node dead (it
// was unreachable for longer than the suspicion timeout). The others have
// blocked its member id for good: it takes no grain traffic until the
// process restarts with a fresh actor system id.
func (n *Node) DeclaredDead() bool { return n.prov.health.declaredDead.Load() }

// LeftGracefully reports whether the member at actor address addr left
// the cluster with a graceful leave (it finishes what it was handling)
// rather than being declared dead.
func (n *Node) LeftGracefully(addr string) bool { return n.prov.events.leftGracefully(addr) }

// FalseSuspicions counts the times another member suspected this node while
// it was alive (it refuted the suspicion).
func (n *Node) FalseSuspicions() int64 { return n.prov.health.suspected.Load() }

// WaitReady blocks until this node has first appeared in its own topology,
// or ctx is done.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.prov.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: wait ready: %w", ctx.Err())
	}
}

// Members returns the current topology as this node sees it, sorted by
// node name then id.
func (n *Node) Members() []Member { return n.prov.members() }

// Shutdown leaves memberlist gracefully (waiting for the leave broadcast
// at most a second, or until ctx is done), then stops the protoactor
// cluster without its graceful path, which sleeps two seconds and waits
// for every grain to stop: grain state that matters is in the store, and
// the other nodes reroute as soon as the leave reaches them. Later calls
// return the first call's result.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() { n.shutdownErr = n.shutdown(ctx) })
	return n.shutdownErr
}

// leaveTimeout bounds the leave broadcast in Shutdown; leaveLinger is how
// long the node keeps serving grain traffic after it left, so requests
// that reached it before the others rerouted finish and are answered.
const (
	leaveTimeout = time.Second
	leaveLinger  = 700 * time.Millisecond
)

func (n *Node) shutdown(ctx context.Context) error {
	close(n.stopWatch)
	timeout := leaveTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(min(time.Until(deadline), timeout), time.Millisecond)
	}
	var errs []error
	if err := n.prov.leave(timeout); err != nil {
		// Not fatal: without the broadcast the others detect the departure
		// by probing, as for a crash.
		n.logger.Warn("cluster: leave not confirmed", slog.Any("error", err))
	}
	linger := time.NewTimer(leaveLinger)
	select {
	case <-linger.C:
	case <-ctx.Done():
		linger.Stop()
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("cluster: protoactor shutdown: %v", r)
			}
		}()
		n.cluster.Shutdown(false)
		done <- nil
	}()
	select {
	case err := <-done:
		errs = append(errs, err)
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("cluster: shutdown: %w", ctx.Err()))
	}
	err := errors.Join(errs...)
	n.logger.Info("cluster: node stopped", slog.String("id", n.system.ID), slog.Any("error", err))
	return err
}
