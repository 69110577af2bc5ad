// Package web owns Spinmatch's pages: the user page (index.html, at /), the
// public queue status (status.html, at /status, live over /status/ws) and
// the operators' dashboard (admin.html, at /admin, live over /admin/ws),
// with their static assets (CSS, JavaScript, icons, vendored libraries),
// embedded in the binary and served without a build step. The status page
// and the dashboard are described in static/status.js and static/admin.js
// (their test hooks there); the wait notifications of the user page in
// static/notify.js.
//
// The page speaks the user WebSocket protocol (docs: PROTOCOL.md) from
// static/app.js, and runs the date chat over a WebRTC data channel from
// static/rtc.js. For browser tests it exposes:
//   - document.body.dataset.state: signin, signin-elsewhere, onboarding,
//     connecting, idle, queued, matched or result ("connecting" lasts until
//     the server's first state);
//   - document.body.dataset.signinExpired: "true" while the sign-in-again
//     modal is up;
//   - document.body.dataset.connected: "true" once the socket has its state;
//   - stable data-testid attributes on the controls (onboard-name,
//     onboard-gender-<g>, onboard-seeking-<g>, onboard-pool, onboard-submit,
//     spin-button, cancel-button, waiting-view, eta-text, eta-reason,
//     queue-position, match-card, partner-name, countdown, chat-status,
//     chat-input, chat-send, vote-yes, vote-no, result-text, spin-again,
//     change-profile, connection-banner, toast, signin-email,
//     signin-password, signin-submit, signin-magic, signin-sent,
//     signin-elsewhere-link, signin-again-modal, signin-again-button,
//     signin-again-link, sign-out).
//
// The identity is per tab (sessionStorage), so two tabs can be two users. A
// new tab starts with an empty form and offers the last profile saved in this
// browser (localStorage) as a one-click fill ("onboard-use-last"), so typing
// into a fresh tab never mixes with another user's answers.
//
// The page learns how to sign users in from its configuration (Config),
// which Handler writes into index.html as a JSON data block
// (<script type="application/json" id="spinmatch-config">, not executed,
// so the CSP needs no inline-script exception) and also serves as the public
// GET /api/config for other clients: {"mode": "development"|"production",
// "supabase_url", "supabase_anon_key", "signin_url"} (the last three only
// when set). In production with an anon key the page signs users in through
// Supabase Auth with the vendored supabase-js (static/vendor/: its
// version, licence and update steps in README.txt there, as for uPlot, the
// dashboard's charts); without one it takes a token handed over in the URL
// fragment, or says that signing in happens in the main app.
//
// Concurrency: everything is computed once in Handler and read-only afterwards,
// so the returned handler is safe for concurrent use by any number of requests.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
)

//go:embed index.html status.html admin.html static
var files embed.FS

// Cache policies. The page is always revalidated so a deploy is picked up at
// once; assets referenced with their current content hash (?v=...) are
// immutable, any other asset request is revalidated through its ETag.
const (
	cacheNoCache   = "no-cache"
	cacheImmutable = "public, max-age=31536000, immutable"
)

// contentTypes maps the extensions we ship to their media type. An explicit
// table keeps the answer independent of the host's /etc/mime.types.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

// pageCSP restricts the page to its own origin: scripts, styles and the
// socket (CSP3 'self' covers ws:/wss: of the same host). %s is the extra
// connect-src origin: the Supabase project when the page signs users in.
const pageCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'%s; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// configMarker is the placeholder in index.html that Handler replaces with
// the page's configuration.
const configMarker = "{/*spinmatch-config*/}"

// Config is what the page needs to know about its node. The zero value is
// production without Supabase sign-in and without a sign-in link.
type Config struct {
	// Development turns on the development sign-in (POST /api/dev/token).
	Development bool
	// SupabaseURL is the Supabase project, e.g. https://abcd.supabase.co;
	// empty: none.
	SupabaseURL string
	// SupabaseAnonKey (public by design) lets the page sign users in through
	// Supabase Auth; only used with SupabaseURL. Empty: the page does not.
	SupabaseAnonKey string
	// SignInURL is where the page sends users to sign in when it cannot
	// itself; empty: the page only says that signing in happens in the main app.
	SignInURL string
	// Admin is how the admin routes answer (AdminOpen, AdminKey, AdminOff),
	// so the /admin page can say it; written into that page only. Zero
	// value: AdminOff.
	Admin string
}

// How the admin routes answer, for the /admin page.
const (
	// AdminOff: production without ADMIN_API_KEY, the routes answer 404.
	AdminOff = "off"
	// AdminKey: the routes need ADMIN_API_KEY.
	AdminKey = "key"
	// AdminOpen: development without a key, the routes are open.
	AdminOpen = "open"
)

// pages maps each page's path to its embedded file.
var pages = map[string]string{"/": "index.html", "/status": "status.html", "/admin": "admin.html"}

// pageConfig is the wire form of Config (GET /api/config).
type pageConfig struct {
	Mode            string `json:"mode"`
	SupabaseURL     string `json:"supabase_url,omitempty"`
	SupabaseAnonKey string `json:"supabase_anon_key,omitempty"`
	SignInURL       string `json:"signin_url,omitempty"`
	Admin           string `json:"admin,omitempty"` // the /admin page's only
}

func (c Config) wire() pageConfig {
	p := pageConfig{Mode: "production", SupabaseURL: c.SupabaseURL, SignInURL: c.SignInURL}
	if c.Development {
		p.Mode = "development"
	}
	if c.SupabaseURL != "" {
		p.SupabaseAnonKey = c.SupabaseAnonKey
	}
	return p
}

// asset is one embedded file, ready to serve. Static after construction.
type asset struct {
	body        []byte
	contentType string
	etag        string // quoted strong ETag from the content hash
	version     string // short content hash used as the ?v= cache buster
}

// site is the immutable set of files behind Handler.
type site struct {
	pages  map[string]asset // keyed by path: "/", "/status", "/admin"
	config asset            // GET /api/config
	csp    string           // the page's Content-Security-Policy
	assets map[string]asset // keyed by the path under /static/, e.g. "app.js" or "vendor/supabase.js"
}

// Handler returns the handler for the pages: GET or HEAD "/", "/status" and
// "/admin" answer their page with cfg written into it (never cached
// without revalidation; only /admin's says how the admin routes answer),
// "/api/config" answers cfg as JSON, "/static/<file>" answers an embedded
// asset with its content type and caching headers, and every other path
// answers 404.
func Handler(cfg Config) http.Handler {
	s, err := load(files, cfg)
	if err != nil {
		// The files are embedded at compile time; failing here is a build bug.
		panic(fmt.Sprintf("web.Handler: %v", err))
	}
	return s
}

// load reads the embedded files, fingerprints the assets, rewrites the
// page's asset references to carry their fingerprint and writes cfg into it.
func load(fsys fs.FS, cfg Config) (*site, error) {
	conf, err := json.Marshal(cfg.wire()) // escapes <, > and &: safe inside <script>
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	s := &site{assets: map[string]asset{}, config: newAsset(append(conf, '\n'), ".json"), csp: fmt.Sprintf(pageCSP, "")}
	if origin := originOf(cfg.SupabaseURL); origin != "" {
		s.csp = fmt.Sprintf(pageCSP, " "+origin)
	}
	err = fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		s.assets[strings.TrimPrefix(p, "static/")] = newAsset(body, path.Ext(p))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	admin := cfg.wire()
	admin.Admin = cfg.Admin
	if admin.Admin == "" {
		admin.Admin = AdminOff
	}
	adminConf, err := json.Marshal(admin)
	if err != nil {
		return nil, fmt.Errorf("encode admin config: %w", err)
	}
	s.pages = make(map[string]asset, len(pages))
	for route, file := range pages {
		page, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", file, err)
		}
		if !bytes.Contains(page, []byte(configMarker)) {
			return nil, fmt.Errorf("%s lacks the config marker %s", file, configMarker)
		}
		c := conf
		if route == "/admin" {
			c = adminConf
		}
		s.pages[route] = newAsset(bytes.Replace(s.fingerprint(page), []byte(configMarker), c, 1), ".html")
	}
	return s, nil
}

// originOf returns scheme://host of an http(s) URL, or "" for anything
// else (nothing unexpected reaches the CSP header).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		strings.ContainsAny(u.Host, " ;,'\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func newAsset(body []byte, ext string) asset {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	ct := contentTypes[ext]
	if ct == "" {
		ct = "application/octet-stream"
	}
	return asset{body: body, contentType: ct, etag: `"` + h[:32] + `"`, version: h[:12]}
}

// fingerprint rewrites every quoted "/static/<name>" reference in page to
// "/static/<name>?v=<hash>" so browsers may cache assets forever.
func (s *site) fingerprint(page []byte) []byte {
	pairs := make([]string, 0, 2*len(s.assets))
	for name, a := range s.assets {
		pairs = append(pairs, `"/static/`+name+`"`, `"/static/`+name+`?v=`+a.version+`"`)
	}
	return []byte(strings.NewReplacer(pairs...).Replace(string(page)))
}

// ServeHTTP implements http.Handler.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/api/config" {
		serve(w, r, s.config, cacheNoCache)
		return
	}
	if page, ok := s.pages[r.URL.Path]; ok {
		w.Header().Set("Content-Security-Policy", s.csp)
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("X-Frame-Options", "DENY")
		serve(w, r, page, cacheNoCache)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/static/")
	a, found := s.assets[name]
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	cache := cacheNoCache
	if r.URL.Query().Get("v") == a.version {
		cache = cacheImmutable
	}
	serve(w, r, a, cache)
}

// serve writes one asset with its validators, answering 304 when the
// client's copy is current.
func serve(w http.ResponseWriter, r *http.Request, a asset, cache string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cache)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(header, etag string) bool {
	for _, candidate := range strings.Split(header, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == "*" || candidate == etag {
			return true
		}
	}
	return false
}
