package main

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// loadClusterKey reads SPIN_CLUSTER_KEY: comma-separated base64 keys of 16,
// 24 or 32 bytes, the primary first (the others are still accepted, for
// rotation). It is required in production; in development an unset key
// means plaintext gossip and remote. Errors never show key material.
func loadClusterKey(getenv func(string) string, c *Config) error {
	const name = "SPIN_CLUSTER_KEY"
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		if !c.Development {
			return &configError{name, "is required in production: base64 of 16, 24 or 32 random bytes (openssl rand -base64 32)"}
		}
		return nil
	}
	parts := strings.Split(v, ",")
	keys := make([][]byte, 0, len(parts))
	for i, p := range parts {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p))
		if err != nil {
			return &configError{name, fmt.Sprintf("key %d of %d is not base64", i+1, len(parts))}
		}
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return &configError{name, fmt.Sprintf("key %d of %d decodes to %d bytes, must be 16, 24 or 32", i+1, len(parts), n)}
		}
		keys = append(keys, k)
	}
	c.Cluster.Keys = keys
	return nil
}
