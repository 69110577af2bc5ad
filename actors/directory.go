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

// directoryTTL is how long a pool stays listed after its last announcement.
const directoryTTL = time.Hour

// maxPools bounds the directory; the least recently seen pool goes first.
const maxPools = 10000

// directory is the PoolDirectory grain: the cluster-wide list of pools, for
// /api/queue/status and the admin views. It is soft state: every active
// MatchPool announces itself on activation and then periodically, so a
// directory that moved rebuilds within one announcement period. All fields
// are owned by Receive.
type directory struct {
	d    *Deps
	log  *slog.Logger
	seen map[string]time.Time
}

func newDirectory(d *Deps) actor.Actor {
	return &directory{d: d, seen: map[string]time.Time{DefaultPool: d.now()}}
}

// Receive handles one message.
func (g *directory) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.log = g.d.Logger.With("grain", KindPoolDirectory)
	case *msg.PoolAlive:
		g.seen[m.Pool] = g.d.now()
		if len(g.seen) > maxPools {
			g.evictOldest()
		}
	case *msg.ListPools:
		now := g.d.now()
		out := make([]string, 0, len(g.seen))
		for name, at := range g.seen {
			if name != DefaultPool && now.Sub(at) > directoryTTL {
				delete(g.seen, name)
				continue
			}
			out = append(out, name)
		}
		slices.Sort(out)
		ctx.Respond(&msg.PoolList{Pools: out})
	case *actor.Stopping, *actor.Stopped, *actor.Restarting, *cluster.ClusterInit:
	default:
		g.log.Warn("directory: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

func (g *directory) evictOldest() {
	var oldest string
	var at time.Time
	for name, t := range g.seen {
		if name != DefaultPool && (oldest == "" || t.Before(at)) {
			oldest, at = name, t
		}
	}
	delete(g.seen, oldest)
}
