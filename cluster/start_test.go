package cluster_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

func TestStartFailsCleanly(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String() // nothing listens here once closed
	closed.Close()

	tests := []struct {
		name    string
		edit    func(*cluster.Config)
		wantErr string
	}{
		{"memberlist port in use", func(c *cluster.Config) { c.Bind = busy.Addr().String() }, "bind memberlist"},
		{"remote port in use", func(c *cluster.Config) { c.RemoteAddr = busy.Addr().String() }, "failed to listen"},
		{"no seed answers", func(c *cluster.Config) { c.Join = []string{refused} }, "join"},
		{"bad config", func(c *cluster.Config) { c.Bind = "nowhere" }, "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clustertest.Config("127.0.0.1", "failing")
			tt.edit(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			n, err := cluster.Start(ctx, cfg)
			if err == nil {
				clustertest.Stop(t, n)
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
