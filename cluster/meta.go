package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// nodeMeta is what a node announces in its memberlist metadata: enough to
// build a protoactor cluster.Member. Host and Port equal the actor system's
// address exactly.
type nodeMeta struct {
	ID    string   `json:"id"`
	Host  string   `json:"h"`
	Port  int      `json:"p"`
	Kinds []string `json:"k,omitempty"`
	// Leaving is set (and broadcast) just before a graceful leave, so the
	// others know the node finishes what it took (memberlist's own leave
	// event does not say whether a node left or died).
	Leaving bool `json:"l,omitempty"`
}

// encodeMeta encodes m compactly and checks it fits memberlist.MetaMaxSize.
func encodeMeta(m nodeMeta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode meta: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("cluster: encode meta: %d bytes exceeds memberlist limit %d (too many kinds?)", len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// decodeMeta decodes and validates metadata received from another node.
func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nodeMeta{}, fmt.Errorf("cluster: decode meta: %w", err)
	}
	switch {
	case m.ID == "":
		return nodeMeta{}, errors.New("cluster: decode meta: empty id")
	case m.Host == "":
		return nodeMeta{}, errors.New("cluster: decode meta: empty host")
	case m.Port <= 0 || m.Port > 65535:
		return nodeMeta{}, fmt.Errorf("cluster: decode meta: bad port %d", m.Port)
	}
	return m, nil
}
