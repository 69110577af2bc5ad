package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStartErrorsNameTheVariable starts nodes whose listen, database and
// cluster settings cannot work: each start stops with an error that names
// the variable to fix.
func TestStartErrorsNameTheVariable(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer takenUDP.Close()
	// A TCP port nobody listens on: the join and the database get refused.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := free.Addr().String()
	_ = free.Close()

	tests := []struct {
		name   string
		edit   func(*Config)
		wantIn string
	}{
		{"listen address in use", func(c *Config) { c.Addr = taken.Addr().String() }, "SPIN_ADDR"},
		{"database unreachable", func(c *Config) {
			c.DatabaseURL = "postgres://postgres@" + dead + "/spin?sslmode=disable&connect_timeout=2"
		}, "DATABASE_URL"},
		{"memberlist bind in use", func(c *Config) { c.Cluster.Bind = takenUDP.LocalAddr().String() }, "SPIN_CLUSTER_BIND"},
		{"remote address in use", func(c *Config) { c.Cluster.RemoteAddr = taken.Addr().String() }, "SPIN_REMOTE_ADDR"},
		{"seed unreachable", func(c *Config) { c.Cluster.Join = []string{dead} }, "SPIN_CLUSTER_JOIN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.edit(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			n, err := Start(ctx, cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
				_ = n.Shutdown(sctx)
				scancel()
				t.Fatalf("started; want an error naming %s", tc.wantIn)
			}
			var ce *configError
			if !errors.As(err, &ce) || ce.name != tc.wantIn || !strings.HasPrefix(err.Error(), "config: "+tc.wantIn+" ") {
				t.Fatalf("error %q (%T), want a configError naming %s", err, err, tc.wantIn)
			}
		})
	}
}
