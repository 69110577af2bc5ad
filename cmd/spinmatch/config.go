package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/transport/adminws"
)

// Config is the whole node configuration, from the environment
// (PROTOCOL.md, Configuration).
type Config struct {
	Addr           string
	Development    bool
	JWTSecret      []byte
	JWTGenerated   bool // development only: a random secret was made
	AdminKey       string
	TestKey        string
	DatabaseURL    string
	AllowedOrigins []string
	Actors         actors.Config
	Cluster        cluster.Config
	SentryDSN      string
	SentryEnv      string
	SentryRelease  string
	SentrySample   float64 // errors sent, 0 to 1
	SentryTraces   float64
	LogLevel       string
	Limits         limitsConfig
	Alerts         alertsConfig
	Status         statusConfig // the /status/ws caps (config_status.go)
	// wrapStore, when set, wraps the store the node opens (tests inject
	// faults with it).
	wrapStore func(actors.Store) actors.Store
	// SupabaseURL is the Supabase project whose key set verifies ES256 and
	// RS256 user tokens (SUPABASE_URL, no trailing slash); "" for none.
	SupabaseURL string
	// SupabaseAnonKey is the project's anon key (SUPABASE_ANON_KEY), which
	// the page uses to sign users in through Supabase Auth; "" for none.
	SupabaseAnonKey string
	// JWKSRetry is the first wait before fetching a key set again that
	// could not be fetched (tests shorten it). Zero: auth's default (1 s).
	JWKSRetry time.Duration
	// WSAuthWait is how long a socket whose token expired waits for auth
	// before it closes with 4001 (tests shorten it). Zero: 30 s.
	WSAuthWait time.Duration
	// SignInURL is where the page sends users to sign in when it cannot
	// itself (production without SupabaseAnonKey); empty: no link.
	SignInURL string
	// AdminStream tunes /admin/ws (no variables; tests shorten it).
	AdminStream adminws.Config
	// GCPace raises GOGC while the node is busy pairing (gcpace.go). On
	// unless GOGC is set in the environment, which then rules; false (the
	// zero value, as tests leave it) means the runtime's GOGC throughout.
	GCPace bool
}

// configError names the variable that stopped the start.
type configError struct{ name, problem string }

func (e *configError) Error() string { return fmt.Sprintf("config: %s %s", e.name, e.problem) }

// loadConfig reads the environment through getenv.
func loadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:        or(getenv("SPIN_ADDR"), ":8080"),
		AdminKey:    getenv("ADMIN_API_KEY"),
		TestKey:     getenv("TEST_API_KEY"),
		DatabaseURL: getenv("DATABASE_URL"),
		Actors:      actors.DefaultConfig(),
		Cluster:     cluster.DefaultConfig(),
		LogLevel:    or(getenv("SPIN_LOG_LEVEL"), "info"),
		GCPace:      getenv("GOGC") == "",
	}
	// Production unless told otherwise: a deployment that forgets SPIN_ENV
	// must not open /api/dev/token (make run sets development).
	switch env := or(getenv("SPIN_ENV"), "production"); env {
	case "development":
		c.Development = true
	case "production":
	default:
		return c, &configError{"SPIN_ENV", "must be development or production, not " + strconv.Quote(env)}
	}
	if s := getenv("JWT_SECRET"); s != "" {
		c.JWTSecret = []byte(s)
	} else if c.Development {
		var b [32]byte
		_, _ = rand.Read(b[:])
		c.JWTSecret, c.JWTGenerated = []byte(hex.EncodeToString(b[:])), true
	}
	if err := loadAuth(getenv, &c); err != nil {
		return c, err
	}
	if s := getenv("SPIN_ALLOWED_ORIGINS"); s != "" {
		for _, o := range strings.Split(s, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			}
		}
	}
	secs := []struct {
		name string
		dst  *time.Duration
		zero bool // zero allowed
	}{
		{"SPIN_DATE_S", &c.Actors.DateLength, false},
		{"SPIN_VOTE_S", &c.Actors.VoteWindow, false},
		{"SPIN_RECONNECT_GRACE_S", &c.Actors.ReconnectGrace, true},
		{"SPIN_REMATCH_COOLDOWN_S", &c.Actors.RematchCooldown, true},
		{"SPIN_STATS_WINDOW_S", &c.Actors.Estimator.Window, false},
	}
	for _, s := range secs {
		v := getenv(s.name)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || (f == 0 && !s.zero) || f > 365*24*3600 {
			return c, &configError{s.name, "must be a positive number of seconds, not " + strconv.Quote(v)}
		}
		*s.dst = time.Duration(f * float64(time.Second))
	}
	if err := loadSentry(getenv, &c); err != nil {
		return c, err
	}
	if v := getenv("SPIN_NODE_NAME"); v != "" {
		c.Cluster.NodeName = v
	}
	if v := getenv("SPIN_CLUSTER_BIND"); v != "" {
		c.Cluster.Bind = v
	}
	c.Cluster.Advertise = getenv("SPIN_CLUSTER_ADVERTISE")
	if v := getenv("SPIN_CLUSTER_JOIN"); v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Cluster.Join = append(c.Cluster.Join, s)
			}
		}
	}
	c.Cluster.RemoteAddr = getenv("SPIN_REMOTE_ADDR")
	if err := loadFailureDetection(getenv, &c.Cluster); err != nil {
		return c, err
	}
	if err := loadClusterKey(getenv, &c); err != nil {
		return c, err
	}
	if err := loadLimits(getenv, &c); err != nil {
		return c, err
	}
	if err := loadPools(getenv, &c); err != nil {
		return c, err
	}
	if err := loadPage(getenv, &c); err != nil {
		return c, err
	}
	if err := loadAlerts(getenv, &c); err != nil {
		return c, err
	}
	if err := loadStatus(getenv, &c); err != nil {
		return c, err
	}
	return c, nil
}

// loadFailureDetection reads the failure-detection settings (README,
// Operations): memberlist's probe interval, probe timeout and suspicion
// multiplier, and protoactor's heartbeat expiration.
func loadFailureDetection(getenv func(string) string, cc *cluster.Config) error {
	ml := *cc.Memberlist // a copy: the preset may be shared
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"SPIN_CLUSTER_PROBE_INTERVAL_S", &ml.ProbeInterval},
		{"SPIN_CLUSTER_PROBE_TIMEOUT_S", &ml.ProbeTimeout},
		{"SPIN_CLUSTER_HEARTBEAT_EXPIRATION_S", &cc.HeartbeatExpiration},
	}
	for _, d := range durations {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 3600 {
			return &configError{d.name, "must be a positive number of seconds, not " + strconv.Quote(v)}
		}
		*d.dst = time.Duration(f * float64(time.Second))
	}
	if ml.ProbeTimeout >= ml.ProbeInterval {
		return &configError{"SPIN_CLUSTER_PROBE_TIMEOUT_S", "must be shorter than SPIN_CLUSTER_PROBE_INTERVAL_S"}
	}
	if v := getenv("SPIN_CLUSTER_SUSPICION_MULT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return &configError{"SPIN_CLUSTER_SUSPICION_MULT", "must be a whole number from 1 to 100, not " + strconv.Quote(v)}
		}
		ml.SuspicionMult = n
	}
	cc.Memberlist = &ml
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
