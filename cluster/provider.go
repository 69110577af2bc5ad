package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/hashicorp/memberlist"
)

// defaultLeaveTimeout bounds the leave broadcast when protoactor itself
// shuts the provider down (Node.Shutdown uses its context instead).
const defaultLeaveTimeout = 5 * time.Second

// errClientMode is returned by StartClient.
var errClientMode = errors.New("cluster: client mode is not supported")

// provider is the protocluster.ClusterProvider backed by memberlist. It owns
// the memberlist instance and the topology goroutine (run).
type provider struct {
	// Static after construction.
	logger   *slog.Logger
	mlConfig *memberlist.Config // private copy; completed by StartMember
	resync   time.Duration
	changed  chan struct{} // capacity 1; written by events, read by run
	events   *eventDelegate
	stop     chan struct{} // closed by stopSync
	done     chan struct{} // closed when run returns
	ready    chan struct{} // closed when this node first appears in the topology
	health   *health

	// Set once by StartMember before run starts; read-only afterwards.
	cluster  *protocluster.Cluster
	list     *memberlist.Memberlist
	selfID   string
	selfMeta nodeMeta
	meta     metaDelegate
	sub      *eventstream.Subscription

	mu        sync.Mutex
	names     map[string]string // guarded by mu: member id -> node name, from the last sync
	topology  []Member          // guarded by mu: members of the last ClusterTopology event
	readyOnce sync.Once         // closes ready; used under mu

	stopOnce  sync.Once
	leaveOnce sync.Once
	leaveErr  error // written once inside leaveOnce
}

var _ protocluster.ClusterProvider = (*provider)(nil)

// newProvider returns a provider whose memberlist will use base (copied),
// with the already bound transport t and the advertise address host:port.
func newProvider(s settings, t *memberlist.NetTransport, advHost string, advPort int, logger *slog.Logger) *provider {
	mc := *s.Memberlist
	mc.Name = s.NodeName
	mc.BindAddr = s.bindHost
	mc.BindPort = t.GetAutoBindPort()
	mc.AdvertiseAddr = advHost
	mc.AdvertisePort = advPort
	mc.Transport = t
	mc.Label = s.Name
	// With keys, every packet and stream is encrypted with the primary key
	// and one that no key decrypts (or that is not encrypted) is dropped.
	mc.SecretKey, mc.Keyring = nil, s.keyring
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.LogOutput = nil
	h := &health{}
	mc.Logger = newMemberlistLogger(logger, h)
	changed := make(chan struct{}, 1)
	return &provider{
		health:   h,
		logger:   logger,
		mlConfig: &mc,
		resync:   s.ResyncInterval,
		changed:  changed,
		events:   newEventDelegate(changed),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
	}
}

// StartMember announces this node through memberlist and starts pushing the
// memberlist view into the cluster topology. protoactor calls it after the
// remote has started, so the actor system address is final.
func (p *provider) StartMember(c *protocluster.Cluster) error {
	const op = "cluster: start member"
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if addr := host + ":" + strconv.Itoa(port); addr != c.ActorSystem.Address() {
		return fmt.Errorf("%s: member address %q differs from actor system address %q", op, addr, c.ActorSystem.Address())
	}
	kinds := c.GetClusterKinds()
	slices.Sort(kinds)
	meta, err := encodeMeta(nodeMeta{ID: c.ActorSystem.ID, Host: host, Port: port, Kinds: kinds})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	p.cluster = c
	p.selfID = c.ActorSystem.ID
	p.selfMeta = nodeMeta{ID: c.ActorSystem.ID, Host: host, Port: port, Kinds: kinds}
	p.meta = newMetaDelegate(meta)
	p.mlConfig.Delegate = p.meta
	p.mlConfig.Events = p.events
	// Subscribe before the first topology push. The identity lookup
	// subscribed earlier (placement.Setup), and the event stream calls
	// subscribers in order, so once this view shows a topology the lookup
	// has it too.
	p.sub = c.ActorSystem.EventStream.Subscribe(p.onEvent)
	list, err := memberlist.Create(p.mlConfig)
	if err != nil {
		c.ActorSystem.EventStream.Unsubscribe(p.sub)
		return fmt.Errorf("%s: memberlist: %w", op, err)
	}
	p.list = list
	go p.run()
	return nil
}

// StartClient is not supported: every node is a full member.
func (p *provider) StartClient(*protocluster.Cluster) error {
	return errClientMode
}

// Shutdown leaves memberlist (gracefully when asked) and stops the topology
// goroutine. protoactor calls it from Cluster.Shutdown; after Node.Shutdown
// has already left it does nothing.
func (p *provider) Shutdown(graceful bool) error {
	timeout := defaultLeaveTimeout
	if !graceful {
		timeout = -1
	}
	return p.leave(timeout)
}

// leave stops the topology goroutine, broadcasts a leave waiting at most
// timeout (no broadcast when timeout < 0), then shuts memberlist down.
// Only the first call does anything.
func (p *provider) leave(timeout time.Duration) error {
	p.leaveOnce.Do(func() {
		p.stopSync()
		if p.list == nil {
			return
		}
		var errs []error
		if timeout >= 0 {
			// Say "leaving" first: memberlist's leave event looks the same
			// as a death to the others.
			leaving := p.selfMeta
			leaving.Leaving = true
			if b, err := encodeMeta(leaving); err == nil {
				p.meta.set(b)
				if err := p.list.UpdateNode(timeout); err != nil {
					p.logger.Warn("cluster: leaving flag not broadcast", slog.Any("error", err))
				}
			}
			if err := p.list.Leave(timeout); err != nil {
				errs = append(errs, fmt.Errorf("cluster: leave: %w", err))
			}
		}
		if err := p.list.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: memberlist shutdown: %w", err))
		}
		p.cluster.ActorSystem.EventStream.Unsubscribe(p.sub)
		p.leaveErr = errors.Join(errs...)
	})
	return p.leaveErr
}

// stopSync stops the topology goroutine and waits for it, if it started.
func (p *provider) stopSync() {
	p.stopOnce.Do(func() {
		close(p.stop)
		if p.list != nil {
			<-p.done
		}
	})
}

// run is the topology goroutine: it pushes the memberlist view on every
// membership signal and every resync tick until stop is closed.
func (p *provider) run() {
	defer close(p.done)
	tick := time.NewTicker(p.resync)
	defer tick.Stop()
	for {
		p.sync()
		select {
		case <-p.stop:
			return
		case <-p.changed:
		case <-tick.C:
		}
	}
}

// sync takes the alive nodes the event delegate copied (never memberlist's
// own *Node values, which memberlist rewrites under its lock) and hands them
// to protoactor, which diffs them against the current topology and
// publishes a ClusterTopology on change.
func (p *provider) sync() {
	nodes := p.events.snapshot()
	members := make(protocluster.Members, 0, len(nodes))
	names := make(map[string]string, len(nodes))
	for _, n := range nodes {
		m, err := decodeMeta(n.meta)
		if err != nil {
			p.logger.Warn("cluster: ignoring memberlist node with bad metadata",
				slog.String("node", n.name), slog.String("addr", n.addr), slog.Any("error", err))
			continue
		}
		if m.Leaving && m.ID != p.selfID {
			continue // it finishes what it took; new work goes to the others
		}
		members = append(members, &protocluster.Member{
			Id:    m.ID,
			Host:  m.Host,
			Port:  int32(m.Port),
			Kinds: m.Kinds,
		})
		names[m.ID] = n.name
	}
	p.mu.Lock()
	p.names = names
	p.mu.Unlock()
	p.cluster.MemberList.UpdateClusterTopology(members)
}

// onEvent records the topology protoactor publishes. It runs on the
// publishing goroutine (the topology goroutine, inside
// UpdateClusterTopology), so it only takes p.mu.
func (p *provider) onEvent(evt any) {
	t, ok := evt.(*protocluster.ClusterTopology)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.topology = topologyView(t, p.names)
	if containsID(p.topology, p.selfID) {
		p.readyOnce.Do(func() { close(p.ready) })
	}
	p.logger.Debug("cluster: topology",
		slog.Int("members", len(t.Members)), slog.Int("joined", len(t.Joined)), slog.Int("left", len(t.Left)))
}

// members returns a copy of the last recorded topology.
func (p *provider) members() []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.topology)
}
