// Package supabasetest is a stand-in of Supabase Auth (GoTrue) for tests of
// the user page: the routes supabase-js calls to sign in with a password,
// refresh a session, read the user, request a magic link and sign out, plus
// the project's key set (/auth/v1/.well-known/jwks.json). It listens on
// 127.0.0.1 and answers CORS preflights, as the real service does for a
// page on another origin.
//
// Access tokens are Supabase-shaped JWTs (sub, aud "authenticated", role,
// email, iss URL/auth/v1, exp), signed HS256 with the secret given to New
// (Supabase's legacy JWT secret) or, after UseES256, ES256 with the key the
// JWKS route publishes.
//
// Concurrency: a Server is safe for concurrent use; its mutable state is
// guarded by mu.
package supabasetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AnonKey is the anon key the stand-in expects in the apikey header.
const AnonKey = "test-anon-key"

// KeyID is the kid of the stand-in's ES256 key.
const KeyID = "supabasetest-es256"

// Call is one request the stand-in answered (preflights excluded).
type Call struct {
	Method, Path, Grant string
	APIKey              string // the apikey header
	Email               string // the email in the body, when there is one
}

// User is a signed-up user.
type User struct {
	ID, Email, Password string
}

// Server is a running stand-in. Static after New: URL, secret, key.
type Server struct {
	// URL is the project's address (SUPABASE_URL), http://127.0.0.1:port.
	URL    string
	srv    *httptest.Server
	secret []byte
	key    *ecdsa.PrivateKey

	mu         sync.Mutex
	users      map[string]*User  // by email; guarded by mu
	refresh    map[string]string // refresh token -> user id; guarded by mu
	latest     map[string]string // user id -> latest access token; guarded by mu
	calls      []Call            // guarded by mu
	expireNext int               // tokens still to issue already expired; guarded by mu
	refuse     bool              // refresh grants answered 400; guarded by mu
	es256      bool              // sign with the ES256 key; guarded by mu
	ttl        time.Duration     // access token lifetime; guarded by mu
}

// New starts a stand-in that signs HS256 with secret; it stops at cleanup.
func New(tb testing.TB, secret []byte) *Server {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("supabasetest: key: %v", err)
	}
	s := &Server{secret: secret, key: key, users: map[string]*User{}, refresh: map[string]string{},
		latest: map[string]string{}, ttl: time.Hour}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("supabasetest: listen: %v", err)
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}}
	s.srv.Start()
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// AddUser signs up email with password and returns the user's id.
func (s *Server) AddUser(email, password string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &User{ID: newUUID(), Email: email, Password: password}
	s.users[strings.ToLower(email)] = u
	return u.ID
}

// ExpireNext makes the next n issued access tokens expired on arrival (a
// clock-skewed or late session), so the page must refresh them.
func (s *Server) ExpireNext(n int) {
	s.mu.Lock()
	s.expireNext = n
	s.mu.Unlock()
}

// RefuseRefresh makes refresh grants fail (a revoked session) or succeed again.
func (s *Server) RefuseRefresh(refuse bool) {
	s.mu.Lock()
	s.refuse = refuse
	s.mu.Unlock()
}

// SetTTL sets the lifetime of later access tokens (default an hour). Under
// 90 s, supabase-js refreshes the session on its next tick.
func (s *Server) SetTTL(d time.Duration) {
	s.mu.Lock()
	s.ttl = d
	s.mu.Unlock()
}

// UseES256 signs later tokens with the ES256 key of the key set.
func (s *Server) UseES256() {
	s.mu.Lock()
	s.es256 = true
	s.mu.Unlock()
}

// Calls returns the requests answered so far whose path ends with path
// (and whose grant_type is grant, when grant is not empty).
func (s *Server) Calls(path, grant string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if strings.HasSuffix(c.Path, path) && (grant == "" || c.Grant == grant) {
			out = append(out, c)
		}
	}
	return out
}

// LatestToken returns the access token last issued for a user id.
func (s *Server) LatestToken(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest[userID]
}

// Session is what Supabase hands a signed-in client (and, as a URL
// fragment, a magic-link redirect).
type Session struct {
	AccessToken  string         `json:"access_token"`
	TokenType    string         `json:"token_type"`
	ExpiresIn    int64          `json:"expires_in"`
	ExpiresAt    int64          `json:"expires_at"`
	RefreshToken string         `json:"refresh_token"`
	User         map[string]any `json:"user"`
}

// NewSession issues a session for a signed-up email (a magic link's
// redirect carries one); ok is false for an unknown email.
func (s *Server) NewSession(email string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[strings.ToLower(email)]
	if u == nil {
		return Session{}, false
	}
	return s.sessionLocked(u), true
}

func (s *Server) sessionLocked(u *User) Session {
	now := time.Now()
	exp := now.Add(s.ttl)
	if s.expireNext > 0 {
		s.expireNext--
		exp = now.Add(-time.Minute)
	}
	tok := s.signLocked(u, now, exp)
	rt := randomHex(16)
	s.refresh[rt] = u.ID
	s.latest[u.ID] = tok
	return Session{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(time.Until(exp).Seconds()),
		ExpiresAt: exp.Unix(), RefreshToken: rt, User: userJSON(u)}
}

func (s *Server) signLocked(u *User, now, exp time.Time) string {
	claims := jwt.MapClaims{
		"sub": u.ID, "aud": "authenticated", "role": "authenticated", "email": u.Email,
		"iss": s.URL + "/auth/v1", "iat": now.Unix(), "exp": exp.Unix(), "session_id": randomHex(8),
	}
	var (
		tok string
		err error
	)
	if s.es256 {
		t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		t.Header["kid"] = KeyID
		tok, err = t.SignedString(s.key)
	} else {
		tok, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	}
	if err != nil {
		panic(fmt.Sprintf("supabasetest: sign: %v", err)) // a fixed key and claims: cannot fail
	}
	return tok
}

// Token signs an access token for any user id, valid for ttl, the way the
// stand-in signs its sessions' tokens (for a second user that is not a page).
func (s *Server) Token(userID string, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	return s.signLocked(&User{ID: userID, Email: userID + "@example.test"}, now, now.Add(ttl))
}

func userJSON(u *User) map[string]any {
	return map[string]any{
		"id": u.ID, "aud": "authenticated", "role": "authenticated", "email": u.Email,
		"email_confirmed_at": "2026-01-01T00:00:00Z", "app_metadata": map[string]any{"provider": "email", "providers": []string{"email"}},
		"user_metadata": map[string]any{}, "identities": []any{}, "created_at": "2026-01-01T00:00:00Z",
		"updated_at": "2026-01-01T00:00:00Z",
	}
}

// ServeHTTP implements the stand-in's routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var body struct {
		Email        string `json:"email"`
		Password     string `json:"password"`
		RefreshToken string `json:"refresh_token"`
	}
	if r.Method == http.MethodPost {
		_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body)
	}
	grant := r.URL.Query().Get("grant_type")
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Grant: grant, APIKey: r.Header.Get("apikey"), Email: body.Email})
	s.mu.Unlock()

	if r.URL.Path == "/auth/v1/.well-known/jwks.json" {
		s.jwks(w)
		return
	}
	if r.Header.Get("apikey") != AnonKey {
		gotrueError(w, http.StatusUnauthorized, "no_api_key", "No API key found in request")
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/auth/v1/token" && grant == "password":
		s.mu.Lock()
		u := s.users[strings.ToLower(body.Email)]
		if u == nil || u.Password != body.Password {
			s.mu.Unlock()
			gotrueError(w, http.StatusBadRequest, "invalid_credentials", "Invalid login credentials")
			return
		}
		sess := s.sessionLocked(u)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, sess)
	case r.Method == http.MethodPost && r.URL.Path == "/auth/v1/token" && grant == "refresh_token":
		s.mu.Lock()
		id, ok := s.refresh[body.RefreshToken]
		if s.refuse || !ok {
			s.mu.Unlock()
			gotrueError(w, http.StatusBadRequest, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
			return
		}
		delete(s.refresh, body.RefreshToken) // refresh tokens are single use
		var u *User
		for _, x := range s.users {
			if x.ID == id {
				u = x
			}
		}
		sess := s.sessionLocked(u)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, sess)
	case r.Method == http.MethodGet && r.URL.Path == "/auth/v1/user":
		u := s.userOf(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if u == nil {
			gotrueError(w, http.StatusForbidden, "bad_jwt", "invalid JWT")
			return
		}
		writeJSON(w, http.StatusOK, userJSON(u))
	case r.Method == http.MethodPost && r.URL.Path == "/auth/v1/otp":
		if body.Email == "" {
			gotrueError(w, http.StatusBadRequest, "validation_failed", "An email address is required")
			return
		}
		s.mu.Lock()
		if s.users[strings.ToLower(body.Email)] == nil {
			s.users[strings.ToLower(body.Email)] = &User{ID: newUUID(), Email: body.Email}
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{})
	case r.Method == http.MethodPost && r.URL.Path == "/auth/v1/logout":
		w.WriteHeader(http.StatusNoContent)
	default:
		gotrueError(w, http.StatusNotFound, "not_found", "no such route in the stand-in")
	}
}

// userOf returns the user a token (signed by this stand-in, unexpired) names.
func (s *Server) userOf(token string) *User {
	t, err := jwt.Parse(token, func(t *jwt.Token) (any, error) {
		if t.Method == jwt.SigningMethodES256 {
			return &s.key.PublicKey, nil
		}
		return s.secret, nil
	}, jwt.WithValidMethods([]string{"HS256", "ES256"}), jwt.WithExpirationRequired())
	if err != nil {
		return nil
	}
	sub, _ := t.Claims.GetSubject()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.ID == sub {
			return u
		}
	}
	return nil
}

func (s *Server) jwks(w http.ResponseWriter) {
	point, err := s.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil || len(point) != 65 {
		gotrueError(w, http.StatusInternalServerError, "unexpected_failure", "key encoding")
		return
	}
	b := func(n []byte) string { return base64.RawURLEncoding.EncodeToString(n) }
	x, y := point[1:33], point[33:]
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "x": b(x), "y": b(y), "kid": KeyID, "alg": "ES256", "use": "sig",
	}}})
}

func gotrueError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "error_code": code, "msg": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
