// Package authtest fakes a Supabase project for tests: a key set endpoint
// on 127.0.0.1 and an ES256 key that signs access tokens the way Supabase
// does. A Project is safe for concurrent use.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Project is a fake Supabase project. URL is what SUPABASE_URL names.
type Project struct {
	URL string

	key      *ecdsa.PrivateKey // static
	kid      string            // static
	jwks     []byte            // static: the key set document
	failing  atomic.Bool
	requests atomic.Int64
}

// NewProject starts a project whose key set endpoint answers until the
// test ends.
func NewProject(tb testing.TB) *Project {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Project{key: key, kid: "authtest-es256"}
	j, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: p.kid, ALG: jwkset.AlgES256, USE: jwkset.UseSig,
	}})
	if err != nil {
		tb.Fatal(err)
	}
	p.jwks, err = json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j.Marshal()}})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/v1/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		p.requests.Add(1)
		if p.failing.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.jwks)
	}))
	tb.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// SetFailing makes the key set endpoint answer 503 (true) or the keys.
func (p *Project) SetFailing(failing bool) { p.failing.Store(failing) }

// Requests returns how many times the key set was asked for.
func (p *Project) Requests() int64 { return p.requests.Load() }

// Token returns an access token for user sub that expires after ttl, with
// Supabase's claims (iss, aud authenticated, role), signed ES256.
func (p *Project) Token(tb testing.TB, sub string, ttl time.Duration) string {
	tb.Helper()
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"sub":  sub,
		"iss":  p.URL + "/auth/v1",
		"aud":  "authenticated",
		"role": "authenticated",
		"iat":  now.Unix(),
		"exp":  now.Add(ttl).Unix(),
	})
	t.Header["kid"] = p.kid
	s, err := t.SignedString(p.key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
