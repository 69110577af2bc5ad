package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
)

// Defaults applied by Config.withDefaults for zero-valued fields.
const (
	DefaultName           = "spinmatch"
	DefaultBind           = "127.0.0.1:7946"
	DefaultRequestTimeout = 5 * time.Second
	DefaultResyncInterval = 2 * time.Second
)

// joinRetryInterval is how long Start waits between failed join rounds.
const joinRetryInterval = 250 * time.Millisecond

// Config describes one node. Zero values mean the documented default; the
// defaults are applied in one place, withDefaults.
type Config struct {
	// Name is the cluster name; it is also the memberlist label, so pools of
	// different clusters never gossip with each other. Zero value means
	// "spinmatch".
	Name string
	// NodeName is the memberlist node name, unique within the pool. Zero
	// value means os.Hostname().
	NodeName string
	// Bind is the memberlist host:port (TCP and UDP). Zero value means
	// "127.0.0.1:7946"; port 0 picks a free port.
	Bind string
	// Advertise is the memberlist host:port other nodes use. Zero value means
	// the bind address after port 0 is resolved; it is required when the
	// bind host is unspecified (0.0.0.0 or ::). Port 0 means the bind port.
	Advertise string
	// Join lists seed memberlist addresses. Zero value means a one-node
	// cluster.
	Join []string
	// RemoteAddr is the protoactor remote (gRPC) host:port, announced through
	// memberlist metadata. Zero value means the bind host (the advertise host
	// when the bind host is unspecified) with port 0, a free port. An
	// unspecified host needs an explicit port and is advertised at the
	// advertise host.
	RemoteAddr string
	// Kinds are the grain kinds this node hosts.
	Kinds []*protocluster.Kind
	// Logger receives this package's logs. Zero value means a logger that
	// discards everything (never the global slog default).
	Logger *slog.Logger
	// ActorLogLevel is the minimum level of protoactor's and memberlist's
	// own (noisy) logs, written through Logger. Zero value is slog.LevelInfo;
	// the presets use slog.LevelWarn.
	ActorLogLevel slog.Level
	// RequestTimeout bounds one grain request. Zero value means 5s.
	RequestTimeout time.Duration
	// ResyncInterval is how often the full memberlist view is pushed to the
	// cluster topology even without a membership event. Zero value means 2s.
	ResyncInterval time.Duration
	// OnBlocked, when set, is called once (from a background goroutine)
	// when this node learns that the other members declared it dead and
	// blocked its id: it should stop serving users and be restarted.
	OnBlocked func()
	// HeartbeatExpiration is how long protoactor's gossip waits for a
	// member's heartbeat before it blocks the member. Zero value means
	// protoactor's default (20 s). memberlist declares a dead node long
	// before that; this only catches a member whose actor system hangs
	// while its memberlist still answers.
	HeartbeatExpiration time.Duration
	// Memberlist holds the base memberlist settings (probe and gossip
	// timings). Start copies it and overwrites the name, addresses,
	// transport, delegates, logger, label and encryption. Zero value means
	// memberlist.DefaultLANConfig().
	Memberlist *memberlist.Config
	// Keys are the cluster keys, 16, 24 or 32 bytes each, the primary
	// first. Every key decrypts memberlist gossip and is accepted from the
	// actor remote's peers; the primary encrypts this node's gossip and
	// derives the TLS certificate it presents (see tls.go). A node holding
	// none of another node's keys neither joins it nor reaches its
	// grains. Zero value means plaintext gossip and remote (development).
	Keys [][]byte
}

// DefaultConfig returns the preset for a production node: defaults
// everywhere, FastLAN failure detection, protoactor logging at Warn.
func DefaultConfig() Config {
	return Config{
		ActorLogLevel: slog.LevelWarn,
		Memberlist:    FastLAN(),
	}
}

// Failure detection presets (memberlist's SWIM probe and suspicion).
//
// A node that dies is declared dead after about one probe round (it is
// probed within ProbeInterval; the probe, its indirect probes and the TCP
// fallback fail within ProbeTimeout) plus the suspicion timeout, which is
// SuspicionMult x ProbeInterval once another member confirms the suspicion
// (up to SuspicionMaxTimeoutMult times that without confirmation). With
// FastLAN that is about 0.3 + 0.2 + 3 x 0.3 = 1.4 s on a LAN, well inside
// the 3 s in which every affected user must have resumed.
//
// The trade-off is false suspicion: a live node that cannot answer a probe
// within ProbeTimeout (a long GC pause, a starved CPU) is suspected, and
// declared dead if it cannot refute within the suspicion timeout, after
// which protoactor blocks its member id for good and it must restart.
// Suspicion only needs refuting, which the suspected node does as soon as
// it hears of it (gossip every GossipInterval), and memberlist's Lifeguard
// awareness stretches the timeouts of a node that sees itself falling
// behind. memberlist's own LAN preset (1 s probes, 500 ms timeout,
// suspicion 4) takes about 5 s to declare a death; its local preset
// (100 ms probes) is for tests on one machine.

// FastLAN returns memberlist's LAN configuration with the faster failure
// detection described above.
func FastLAN() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.ProbeInterval = 300 * time.Millisecond
	c.ProbeTimeout = 200 * time.Millisecond
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 4
	c.GossipInterval = 100 * time.Millisecond
	c.TCPTimeout = 2 * time.Second
	return c
}

// DefaultLocalConfig returns the preset for tests: free ports on 127.0.0.1
// for memberlist and remote, the FastLAN failure detection of production
// (memberlist's own local preset, with 100 ms probes, falsely suspects
// nodes of a loaded test process, and a suspected node's id is blocked for
// good), protoactor logging at Warn.
func DefaultLocalConfig() Config {
	return Config{
		Bind:          "127.0.0.1:0",
		RemoteAddr:    "127.0.0.1:0",
		ActorLogLevel: slog.LevelWarn,
		Memberlist:    FastLAN(),
	}
}

// settings is a Config with defaults applied and addresses split; only
// Start builds it.
type settings struct {
	Config
	bindHost   string
	bindPort   int
	remoteHost string
	remotePort int
	keyring    *memberlist.Keyring // nil without Keys
	auth       *remoteAuth         // nil without Keys
}

// withDefaults applies the documented defaults and validates addresses.
func (c Config) withDefaults() (settings, error) {
	const op = "cluster: config"
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.Name) > memberlist.LabelMaxSize {
		return settings{}, fmt.Errorf("%s: name longer than %d bytes", op, memberlist.LabelMaxSize)
	}
	if c.NodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return settings{}, fmt.Errorf("%s: node name: %w", op, err)
		}
		c.NodeName = host
	}
	if c.Bind == "" {
		c.Bind = DefaultBind
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = DefaultResyncInterval
	}
	if c.Memberlist == nil {
		c.Memberlist = memberlist.DefaultLANConfig()
	}
	s := settings{Config: c}
	var err error
	if s.bindHost, s.bindPort, err = splitHostPort(c.Bind); err != nil {
		return settings{}, fmt.Errorf("%s: bind: %w", op, err)
	}
	if isUnspecified(s.bindHost) && c.Advertise == "" {
		return settings{}, fmt.Errorf("%s: advertise is required when bind host %q is unspecified", op, s.bindHost)
	}
	if c.Advertise != "" {
		host, _, err := splitHostPort(c.Advertise)
		if err != nil {
			return settings{}, fmt.Errorf("%s: advertise: %w", op, err)
		}
		if isUnspecified(host) {
			return settings{}, fmt.Errorf("%s: advertise host %q is unspecified", op, host)
		}
	}
	if c.RemoteAddr == "" {
		s.remoteHost = s.bindHost
		if isUnspecified(s.bindHost) {
			s.remoteHost, _, _ = splitHostPort(c.Advertise)
		}
	} else if s.remoteHost, s.remotePort, err = splitHostPort(c.RemoteAddr); err != nil {
		return settings{}, fmt.Errorf("%s: remote: %w", op, err)
	}
	if strings.Contains(s.remoteHost, ":") {
		// protoactor's Member.Address joins host and port without brackets,
		// so an IPv6 actor address never equals its member address.
		return settings{}, fmt.Errorf("%s: remote host %q: IPv6 literals are not supported by protoactor's member addresses", op, s.remoteHost)
	}
	if isUnspecified(s.remoteHost) && s.remotePort == 0 {
		return settings{}, fmt.Errorf("%s: remote host %q is unspecified: set an explicit port", op, s.remoteHost)
	}
	if len(c.Keys) > 0 {
		if err := validateKeys(c.Keys); err != nil {
			return settings{}, err
		}
		if s.keyring, err = memberlist.NewKeyring(c.Keys[1:], c.Keys[0]); err != nil {
			return settings{}, fmt.Errorf("%s: keys: %w", op, err)
		}
		if s.auth, err = newRemoteAuth(c.Keys); err != nil {
			return settings{}, fmt.Errorf("%s: keys: %w", op, err)
		}
	}
	return s, nil
}

// validateKeys checks that there is at least one key and each is 16, 24 or
// 32 bytes long. The error never shows key material.
func validateKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("cluster: config: keys: none given")
	}
	for i, k := range keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("cluster: config: key %d of %d is %d bytes, must be 16, 24 or 32", i+1, len(keys), len(k))
		}
	}
	return nil
}

// splitHostPort splits host:port and checks the port is 0..65535.
func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q in %q", portStr, addr)
	}
	if host == "" {
		return "", 0, errors.New("empty host in " + strconv.Quote(addr))
	}
	return host, port, nil
}

// isUnspecified reports whether host is 0.0.0.0 or ::.
func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
