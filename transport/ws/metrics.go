package ws

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// commandTypes are the type label values of spinmatch_ws_command_seconds
// (actors.CommandName's names).
var commandTypes = []string{"spin", "cancel", "status", "vote", "signal", "unknown"}

// commandLatency is spinmatch_ws_command_seconds: from a command frame
// read to its session having processed it (or the Router giving up), by
// command type. Static after newCommandLatency.
type commandLatency struct {
	vec *prometheus.HistogramVec
	obs map[string]prometheus.Observer // by type, every commandTypes value
}

func newCommandLatency() *commandLatency {
	c := &commandLatency{
		vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "spinmatch_ws_command_seconds",
			Help:    "Latency of socket commands, from the frame read to the session having processed it, by command type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"type"}),
		obs: map[string]prometheus.Observer{},
	}
	for _, t := range commandTypes {
		c.obs[t] = c.vec.WithLabelValues(t)
	}
	return c
}

// start returns the function that records cmd as done, timed from now
// (its type is read here, before the command leaves the reader).
func (c *commandLatency) start(cmd *msg.Command) func() {
	if c == nil {
		return func() {}
	}
	o, ok := c.obs[actors.CommandName(cmd)]
	if !ok {
		o = c.obs["unknown"]
	}
	t0 := time.Now()
	return func() { o.Observe(time.Since(t0).Seconds()) }
}
