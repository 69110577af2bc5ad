package actors

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// DirectoryID is the identity of the one PoolDirectory grain of a cluster.
const DirectoryID = "pools"

// maxPools bounds the directory; the least recently seen pool goes first.
const maxPools = 10000

// directoryTTL is how long a pool stays listed after its last
// announcement. A pool announces itself only while somebody is in it
// (every Refresh), so one that emptied drops out of the listing (and of
// /api/queue/status) a few refresh periods later; its activation
// passivates PoolIdle after it emptied.
func directoryTTL(c Config) time.Duration { return 4 * c.Refresh }

// directory is the PoolDirectory grain: the cluster-wide list of pools, for
// /api/queue/status and the admin views. It is soft state: every busy
// MatchPool announces itself when it becomes busy and then periodically,
// so a directory that moved rebuilds within one announcement period. The
// default pool and the pools of SPIN_POOLS are always listed. All fields
// are owned by Receive.
type directory struct {
	d     *Deps
	log   *slog.Logger
	fixed map[string]struct{}  // always listed; static after newDirectory
	seen  map[string]time.Time // announced pools, by last announcement
}

func newDirectory(d *Deps) actor.Actor {
	g := &directory{d: d, fixed: map[string]struct{}{defaultPoolIn(d.Config.Pools): {}}, seen: map[string]time.Time{}}
	for _, name := range d.Config.Pools {
		g.fixed[name] = struct{}{}
	}
	return g
}

// Receive handles one message.
func (g *directory) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.log = g.d.Logger.With("grain", KindPoolDirectory)
	case *msg.PoolAlive:
		if _, ok := g.fixed[m.Pool]; ok || !ValidPoolName(m.Pool) {
			return
		}
		g.seen[m.Pool] = g.d.now()
		if len(g.seen) > maxPools {
			g.expire()
		}
		if len(g.seen) > maxPools {
			g.evictOldest()
		}
	case *msg.ListPools:
		g.expire()
		out := make([]string, 0, len(g.fixed)+len(g.seen))
		for name := range g.fixed {
			out = append(out, name)
		}
		for name := range g.seen {
			out = append(out, name)
		}
		slices.Sort(out)
		ctx.Respond(&msg.PoolList{Pools: out})
	case *actor.Stopping, *actor.Stopped, *actor.Restarting, *cluster.ClusterInit:
	default:
		g.log.Warn("directory: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

// expire forgets the pools that stopped announcing.
func (g *directory) expire() {
	now, ttl := g.d.now(), directoryTTL(g.d.Config)
	for name, at := range g.seen {
		if now.Sub(at) > ttl {
			delete(g.seen, name)
		}
	}
}

func (g *directory) evictOldest() {
	var oldest string
	var at time.Time
	for name, t := range g.seen {
		if oldest == "" || t.Before(at) {
			oldest, at = name, t
		}
	}
	delete(g.seen, oldest)
}
