// Package auth checks who is calling: user JWTs, the admin key and the test
// key. User tokens are Supabase access tokens: HS256 signed with the legacy
// JWT secret, or (when a Supabase project is configured) ES256 or RS256
// signed with a key of the project's key set, which the Verifier fetches,
// caches and refreshes (keyset.go).
//
// A Verifier is safe for concurrent use: its configuration is static after
// New, the key set is guarded by its own lock, and the background fetch
// loop is the only writer of the keys. Tokens are never logged.
package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrNoToken is returned when a request carries no credentials.
var ErrNoToken = errors.New("auth: no token")

// Audience is the aud claim Supabase access tokens carry.
const Audience = "authenticated"

// Leeway is the clock skew allowed on exp (and nbf).
const Leeway = 5 * time.Second

// maxSubject bounds the user id a token may carry.
const maxSubject = 128

// Config configures a Verifier. Zero values mean the documented defaults.
type Config struct {
	// Secret is the HS256 secret (JWT_SECRET). Empty: HS256 tokens are refused.
	Secret []byte
	// SupabaseURL is the Supabase project (SUPABASE_URL), for example
	// https://abc.supabase.co. Empty: ES256 and RS256 tokens are refused.
	// When set, its key set is SupabaseURL/auth/v1/.well-known/jwks.json
	// and the tokens' iss must be SupabaseURL/auth/v1.
	SupabaseURL string
	// Client fetches the key set. Zero value: a client with a 10 s timeout.
	Client *http.Client
	// Refetch is the least time between two fetches of the key set for a
	// token whose kid is unknown. Zero value: one minute.
	Refetch time.Duration
	// Refresh is how often the key set is fetched again while it is known
	// (so a revoked key goes away). Zero value: 10 minutes.
	Refresh time.Duration
	// Retry is the first wait before fetching again after a key set that
	// could not be fetched at all; it doubles up to 30 s. Zero value: 1 s.
	Retry time.Duration
	// Now is the clock. Zero value: time.Now.
	Now func() time.Time
	// Logger receives fetch failures (never a token). Zero value: discarded.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Refetch <= 0 {
		c.Refetch = time.Minute
	}
	if c.Refresh <= 0 {
		c.Refresh = 10 * time.Minute
	}
	if c.Retry <= 0 {
		c.Retry = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Verifier checks and (in development) issues user tokens. The fields are
// static after New; keys guards itself.
type Verifier struct {
	secret []byte
	issuer string  // SupabaseURL/auth/v1; "" without a key set
	keys   *keySet // nil without a key set
	parser *jwt.Parser
	now    func() time.Time
}

// NewVerifier returns a Verifier for HS256 tokens signed with secret only
// (an empty secret refuses every token).
func NewVerifier(secret []byte) *Verifier {
	v, _ := build(Config{Secret: secret})
	return v
}

// New returns a Verifier. With a SupabaseURL it starts fetching the key set
// in the background (see Ready); Close stops that. It fails when neither a
// secret nor a Supabase URL is given, or the URL is not http(s).
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) == 0 && cfg.SupabaseURL == "" {
		return nil, errors.New("auth: neither a JWT secret nor a Supabase URL")
	}
	return build(cfg)
}

func build(cfg Config) (*Verifier, error) {
	cfg.defaults()
	v := &Verifier{secret: cfg.Secret, now: cfg.Now}
	var methods []string
	if len(cfg.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.SupabaseURL != "" {
		base, err := ParseSupabaseURL(cfg.SupabaseURL)
		if err != nil {
			return nil, err
		}
		v.issuer = base + "/auth/v1"
		v.keys = newKeySet(base+"/auth/v1/.well-known/jwks.json", cfg)
		methods = append(methods, jwt.SigningMethodES256.Alg(), jwt.SigningMethodRS256.Alg())
	}
	if len(methods) == 0 {
		// No method configured: HS256 stays listed (an empty list would
		// allow every method) and key refuses it for want of a secret.
		methods = []string{jwt.SigningMethodHS256.Alg()}
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
		jwt.WithLeeway(Leeway),
	)
	if v.keys != nil {
		v.keys.start()
	}
	return v, nil
}

// ParseSupabaseURL checks a Supabase project URL (http or https, a host, no
// query) and returns it without a trailing slash.
func ParseSupabaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("auth: the Supabase URL must be an http(s) URL such as https://abc.supabase.co")
	}
	return strings.TrimRight(s, "/"), nil
}

// Ready reports whether the Verifier can check every kind of token it is
// configured for: an error until the key set has been fetched once.
func (v *Verifier) Ready() error {
	if v.keys == nil {
		return nil
	}
	return v.keys.ready()
}

// Close stops fetching the key set. Verify keeps working with the keys it
// has. Safe to call more than once.
func (v *Verifier) Close() {
	if v.keys != nil {
		v.keys.close()
	}
}

type claims struct {
	jwt.RegisteredClaims
}

// Verify returns the user id (sub) of a valid token and when it expires.
// It refuses expired, unsigned (alg none) and wrongly signed tokens, tokens
// without exp or sub, and tokens whose aud is present but is not
// "authenticated". HS256 tokens are checked only with the secret; ES256 and
// RS256 tokens only with the key of the project's key set their kid names,
// whose type (and alg, when the key names one) must match, and their iss
// must be the project's.
func (v *Verifier) Verify(token string) (string, time.Time, error) {
	var c claims
	t, err := v.parser.ParseWithClaims(token, &c, v.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: %w", err)
	}
	if t.Method.Alg() != jwt.SigningMethodHS256.Alg() && c.Issuer != v.issuer {
		return "", time.Time{}, errors.New("auth: wrong issuer")
	}
	if len(c.Audience) > 0 && !containsString(c.Audience, Audience) {
		return "", time.Time{}, errors.New("auth: wrong audience")
	}
	if c.Subject == "" || len(c.Subject) > maxSubject {
		return "", time.Time{}, errors.New("auth: no subject")
	}
	return c.Subject, c.ExpiresAt.Time, nil
}

// key is the jwt.Keyfunc: it picks the one key a token may be checked with.
// The parser has already refused methods other than the configured ones.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == jwt.SigningMethodHS256.Alg() {
		if len(v.secret) == 0 {
			return nil, errors.New("no JWT secret")
		}
		return v.secret, nil // never a key of the key set
	}
	if v.keys == nil {
		return nil, errors.New("no key set")
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("no kid")
	}
	k, err := v.keys.lookup(t)
	if err != nil {
		return nil, err
	}
	switch alg {
	case jwt.SigningMethodES256.Alg():
		if pk, ok := k.(*ecdsa.PublicKey); ok && pk.Curve == elliptic.P256() {
			return pk, nil
		}
	case jwt.SigningMethodRS256.Alg():
		if pk, ok := k.(*rsa.PublicKey); ok && pk.N.BitLen() >= 2048 {
			return pk, nil
		}
	}
	return nil, fmt.Errorf("key %q is not an %s key", kid, alg)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CanIssue reports whether the verifier can sign tokens (JWT_SECRET set).
func (v *Verifier) CanIssue() bool { return len(v.secret) > 0 }

// Issue signs an HS256 token for userID valid for ttl (development and
// test tokens). It fails without a secret.
func (v *Verifier) Issue(userID string, ttl time.Duration) (string, error) {
	if len(v.secret) == 0 {
		return "", errors.New("auth: no JWT secret to sign with")
	}
	now := v.now()
	c := claims{jwt.RegisteredClaims{
		Subject:   userID,
		Audience:  jwt.ClaimStrings{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(v.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// BearerToken returns the token of an "Authorization: Bearer" header, or
// (when allowQuery) of the access_token query parameter.
func BearerToken(r *http.Request, allowQuery bool) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", errors.New("auth: malformed Authorization header")
		}
		return strings.TrimSpace(tok), nil
	}
	if allowQuery {
		if t := r.URL.Query().Get("access_token"); t != "" {
			return t, nil
		}
	}
	return "", ErrNoToken
}

// KeyMatches compares a presented key with the configured one in constant
// time; an empty configured key never matches.
func KeyMatches(presented, configured string) bool {
	if configured == "" || presented == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(presented), []byte(configured)) == 1
}

// AdminKey returns the admin key a request presents: Bearer, X-Admin-Key, or
// (when allowQuery, for the admin socket) ?admin_key=.
func AdminKey(r *http.Request, allowQuery bool) string {
	if k := r.Header.Get("X-Admin-Key"); k != "" {
		return k
	}
	if tok, err := BearerToken(r, false); err == nil {
		return tok
	}
	if allowQuery {
		return r.URL.Query().Get("admin_key")
	}
	return ""
}
