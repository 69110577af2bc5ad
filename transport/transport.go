// Package transport is Spinmatch's HTTP and WebSocket edge. It assembles the
// routes of the sub-packages (api: REST; ws: the user socket; statusws:
// the public status stream; adminws: the admin stream; web: the pages)
// into one handler with panic recovery and security headers. It holds no
// state of its own.
package transport

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/adminws"
	"github.com/spinmatch/spinmatch/transport/api"
	"github.com/spinmatch/spinmatch/transport/auth"
	"github.com/spinmatch/spinmatch/transport/clientip"
	"github.com/spinmatch/spinmatch/transport/keys"
	"github.com/spinmatch/spinmatch/transport/statusws"
	"github.com/spinmatch/spinmatch/transport/web"
	"github.com/spinmatch/spinmatch/transport/ws"
)

// Config assembles the edge. Zero values mean the documented defaults.
type Config struct {
	// API configures the REST routes.
	API api.Config
	// WS configures the user sockets.
	WS ws.Config
	// Web configures the user page's sign-in (and GET /api/config).
	Web web.Config
	// Gatherer serves /metrics; zero: prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// WSMetrics are the sockets' instruments; zero: unregistered ones.
	WSMetrics *ws.Metrics
	// AdminStream configures /admin/ws (its Origins default to WS's).
	AdminStream adminws.Config
	// AdminMetrics are the admin stream's instruments; zero: unregistered ones.
	AdminMetrics *adminws.Metrics
	// Metrics are the HTTP instruments; zero: unregistered ones.
	Metrics *Metrics
	// OnPanic, when set, is told of a handler panic (for Sentry).
	OnPanic func(r *http.Request, recovered any)
	// AdminKey guards the operators' routes (package keys); Development
	// opens them when it is unset.
	AdminKey    string
	Development bool
	// ClientIP resolves client addresses (trusted proxies, exemptions) for
	// the per-address limits; zero: the peer address, nothing exempt.
	ClientIP *clientip.Resolver
	// Status configures GET /status/ws (its origins and client addresses
	// are WS's and ClientIP).
	Status statusws.Config
}

// Edge is the node's whole HTTP surface.
type Edge struct {
	http.Handler
	sockets *ws.Handler
	status  *statusws.Hub
	admins  *adminws.Hub
}

// CloseSockets closes every user socket with 1001 and refuses new ones;
// call it when shutting down (http.Server.Shutdown leaves hijacked
// connections alone).
func (e *Edge) CloseSockets() { e.sockets.CloseAll(); e.status.Close(); e.admins.CloseAll() }

// StatusWatchers reports how many /status/ws watchers the node has.
func (e *Edge) StatusWatchers() int { return e.status.Watchers() }

// NewHandler returns the node's whole HTTP surface.
func NewHandler(cfg Config, sys *actors.System, v *auth.Verifier, log *slog.Logger) *Edge {
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.WSMetrics == nil {
		cfg.WSMetrics = ws.NewMetrics(nil)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	cfg.WS.ClientIP = cfg.ClientIP
	limits := api.NewLimits(sys, cfg.ClientIP)
	mux := http.NewServeMux()
	rest := api.New(cfg.API, sys, v, log)
	rest.Register(mux)
	sockets := ws.NewHandler(cfg.WS, sys, v, cfg.WSMetrics, api.WriteError, log)
	sys.SetConnections(sockets.Count)
	mux.Handle("GET /ws", sockets)
	cfg.Status.AllowedOrigins, cfg.Status.ClientIP = cfg.WS.AllowedOrigins, cfg.ClientIP
	status := statusws.New(cfg.Status, func(ctx context.Context) ([]byte, error) {
		return json.Marshal(api.QueueStatus(ctx, sys))
	}, sys.CountQueueFull, api.WriteError, log)
	mux.Handle("GET /status/ws", status)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	admin := keys.Admin(cfg.AdminKey, cfg.Development, false, api.WriteError)
	api.RegisterReports(mux, sys, admin, log)
	mux.Handle("GET /api/admin/alerts", admin.Wrap(api.Alerts(sys)))
	rest.RegisterAdmin(mux, admin)
	if cfg.AdminStream.AllowedOrigins == nil {
		cfg.AdminStream.AllowedOrigins = cfg.WS.AllowedOrigins
	}
	admins := adminws.NewHub(cfg.AdminStream, sys, sys.AlertsSince, cfg.AdminMetrics, log.With("component", "adminws"))
	mux.Handle("GET /admin/ws", adminws.NewHandler(admins, keys.Admin(cfg.AdminKey, cfg.Development, true, api.WriteError), api.WriteError))
	mux.Handle("/debug/pprof/", admin.Wrap(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", admin.Wrap(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", admin.Wrap(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", admin.Wrap(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", admin.Wrap(http.HandlerFunc(pprof.Trace)))
	switch {
	case admin.Open():
		cfg.Web.Admin = web.AdminOpen
	case cfg.AdminKey != "":
		cfg.Web.Admin = web.AdminKey
	default:
		cfg.Web.Admin = web.AdminOff
	}
	pages := web.Handler(cfg.Web)
	mux.Handle("GET /{$}", pages)
	mux.Handle("GET /status", pages)
	mux.Handle("GET /admin", pages)
	mux.Handle("GET /api/config", pages)
	mux.Handle("GET /static/", pages)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, actors.CodeNotFound, "There's nothing here.")
	})
	return &Edge{Handler: recoverer(log, cfg.OnPanic, cfg.Metrics.measure(secure(limits.Wrap(mux)))), sockets: sockets, status: status, admins: admins}
}

// secure sets conservative security headers on every response.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a handler panic into a 500 internal error; the server
// and every other request keep running.
func recoverer(log *slog.Logger, onPanic func(*http.Request, any), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("http: handler panic", "path", r.URL.Path, "panic", v, "reported", onPanic != nil)
				if onPanic != nil {
					onPanic(r, v)
				}
				api.WriteError(w, actors.CodeInternal, "Something went wrong on our side. It has been reported.")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
