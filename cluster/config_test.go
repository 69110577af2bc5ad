package cluster

import (
	"strings"
	"testing"
)

func TestConfigWithDefaults(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantErr    string
		remoteHost string
		remotePort int
		bindPort   int
	}{
		{name: "zero config", cfg: Config{NodeName: "n"}, remoteHost: "127.0.0.1", bindPort: 7946},
		{name: "local preset", cfg: DefaultLocalConfig(), remoteHost: "127.0.0.1"},
		{name: "explicit remote", cfg: Config{NodeName: "n", RemoteAddr: "127.0.0.5:9000"}, remoteHost: "127.0.0.5", remotePort: 9000, bindPort: 7946},
		{name: "unspecified bind takes the advertise host for remote",
			cfg:        Config{NodeName: "n", Bind: "0.0.0.0:7946", Advertise: "10.0.0.7:7946"},
			remoteHost: "10.0.0.7", bindPort: 7946},
		{name: "unspecified remote with a port",
			cfg:        Config{NodeName: "n", RemoteAddr: "0.0.0.0:9000"},
			remoteHost: "0.0.0.0", remotePort: 9000, bindPort: 7946},
		{name: "unspecified bind needs advertise", cfg: Config{NodeName: "n", Bind: "0.0.0.0:7946"}, wantErr: "advertise is required"},
		{name: "unspecified advertise", cfg: Config{NodeName: "n", Advertise: "0.0.0.0:1"}, wantErr: "advertise host"},
		{name: "unspecified remote without a port", cfg: Config{NodeName: "n", RemoteAddr: "0.0.0.0:0"}, wantErr: "explicit port"},
		{name: "IPv6 remote", cfg: Config{NodeName: "n", RemoteAddr: "[::1]:0"}, wantErr: "IPv6"},
		{name: "bad bind", cfg: Config{NodeName: "n", Bind: "127.0.0.1"}, wantErr: "bind"},
		{name: "bad port", cfg: Config{NodeName: "n", Bind: "127.0.0.1:70000"}, wantErr: "bad port"},
		{name: "empty host", cfg: Config{NodeName: "n", Bind: ":7946"}, wantErr: "empty host"},
		{name: "name too long", cfg: Config{NodeName: "n", Name: strings.Repeat("x", 300)}, wantErr: "name longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.cfg.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.remoteHost != tt.remoteHost || s.remotePort != tt.remotePort || s.bindPort != tt.bindPort {
				t.Fatalf("remote %s:%d bind port %d, want %s:%d and %d", s.remoteHost, s.remotePort, s.bindPort, tt.remoteHost, tt.remotePort, tt.bindPort)
			}
			if s.Name != DefaultName || s.Logger == nil || s.RequestTimeout != DefaultRequestTimeout ||
				s.ResyncInterval != DefaultResyncInterval || s.Memberlist == nil || s.NodeName == "" {
				t.Fatalf("defaults not applied: %+v", s.Config)
			}
		})
	}
}
