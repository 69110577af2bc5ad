package cluster

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/stats"
)

// remoteStats counts what this node's actor remote sends to the others:
// the gRPC messages (one protoactor MessageBatch each), their bytes, and
// the envelopes in them by message type. It is a gRPC stats handler on
// the remote's client connections, which carry everything a node sends
// (each node dials every other; the server side of a stream only
// receives). It is what tells the cost of a cross-node hop per spin
// (docs/DESIGN.md, Three nodes).
//
// Concurrency: HandleRPC runs on gRPC's sending goroutines; the totals
// are atomics and the per-type map is guarded by mu.
type remoteStats struct {
	batches atomic.Uint64
	wire    atomic.Uint64 // payload bytes with gRPC framing (not HTTP/2, not TLS)

	mu     sync.Mutex
	byType map[string]*typeCount // guarded by mu; the counts themselves are atomics
}

// typeCount is one message type's envelopes and their payload bytes.
type typeCount struct {
	n, bytes atomic.Uint64
}

func newRemoteStats() *remoteStats { return &remoteStats{byType: map[string]*typeCount{}} }

// TagRPC implements stats.Handler.
func (s *remoteStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// TagConn implements stats.Handler.
func (s *remoteStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler (nothing to count).
func (s *remoteStats) HandleConn(context.Context, stats.ConnStats) {}

// HandleRPC implements stats.Handler: it counts each payload sent.
func (s *remoteStats) HandleRPC(_ context.Context, st stats.RPCStats) {
	out, ok := st.(*stats.OutPayload)
	if !ok {
		return
	}
	s.batches.Add(1)
	s.wire.Add(uint64(out.WireLength))
	rm, _ := out.Payload.(*remote.RemoteMessage)
	b := rm.GetMessageBatch()
	if b == nil {
		return
	}
	for _, e := range b.Envelopes {
		name := "?"
		if i := int(e.TypeId); i >= 0 && i < len(b.TypeNames) {
			name = b.TypeNames[i]
		}
		c := s.count(name)
		c.n.Add(1)
		c.bytes.Add(uint64(len(e.MessageData)))
	}
}

// count returns the counter of one message type, made at its first use.
func (s *remoteStats) count(name string) *typeCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byType[name]
	if c == nil {
		c = &typeCount{}
		s.byType[name] = c
	}
	return c
}

var (
	remoteBatchesDesc  = prometheus.NewDesc("spinmatch_remote_batches_total", "gRPC messages (protoactor message batches) this node's actor remote sent to other nodes.", nil, nil)
	remoteWireDesc     = prometheus.NewDesc("spinmatch_remote_sent_bytes_total", "Bytes of those batches with gRPC framing (without HTTP/2 and TLS framing).", nil, nil)
	remoteMessagesDesc = prometheus.NewDesc("spinmatch_remote_messages_total", "Messages this node's actor remote sent to other nodes, by message type.", []string{"type"}, nil)
	remotePayloadDesc  = prometheus.NewDesc("spinmatch_remote_message_bytes_total", "Serialized bytes of those messages (without their envelopes), by message type.", []string{"type"}, nil)
)

// Describe implements prometheus.Collector.
func (s *remoteStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- remoteBatchesDesc
	ch <- remoteWireDesc
	ch <- remoteMessagesDesc
	ch <- remotePayloadDesc
}

// Collect implements prometheus.Collector.
func (s *remoteStats) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(remoteBatchesDesc, prometheus.CounterValue, float64(s.batches.Load()))
	ch <- prometheus.MustNewConstMetric(remoteWireDesc, prometheus.CounterValue, float64(s.wire.Load()))
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.byType {
		ch <- prometheus.MustNewConstMetric(remoteMessagesDesc, prometheus.CounterValue, float64(c.n.Load()), name)
		ch <- prometheus.MustNewConstMetric(remotePayloadDesc, prometheus.CounterValue, float64(c.bytes.Load()), name)
	}
}
