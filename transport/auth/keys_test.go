package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testKey is a signing key of the tests: a fixed one from testdata/keys,
// so the committed fuzz seeds stay valid.
type testKey struct {
	kid  string
	alg  jwt.SigningMethod
	priv crypto.Signer
}

func loadKey(tb testing.TB, name, kid string) testKey {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name+".pem"))
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		tb.Fatalf("%s: no PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return testKey{kid: kid, alg: jwt.SigningMethodES256, priv: k}
	case *rsa.PrivateKey:
		return testKey{kid: kid, alg: jwt.SigningMethodRS256, priv: k}
	}
	tb.Fatalf("%s: unexpected key type %T", name, k)
	return testKey{}
}

// publicDER is the key's public half in PKIX DER (what an attacker could
// try as an HMAC secret).
func (k testKey) publicDER(tb testing.TB) []byte {
	b, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// jwk is the key's public JWK, as the project publishes it.
func (k testKey) jwk(tb testing.TB) jwkset.JWKMarshal {
	tb.Helper()
	j, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: k.kid, ALG: jwkset.ALG(k.alg.Alg()), USE: jwkset.UseSig,
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return j.Marshal()
}

// signToken signs claims with m and key, setting kid when not "".
func signToken(tb testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(m, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// jwksServer is a local key set endpoint on 127.0.0.1: it serves keys (or
// fails with 503 while failing is set) and counts requests. hold, when
// set, makes requests wait until it is closed.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	keys     []jwkset.JWKMarshal // guarded by mu
	hold     chan struct{}       // guarded by mu
	failing  atomic.Bool
	requests atomic.Int64
}

func newJWKSServer(tb testing.TB, keys ...jwkset.JWKMarshal) *jwksServer {
	tb.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.URL.Path != "/auth/v1/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		hold, keys := s.hold, s.keys
		s.mu.Unlock()
		if hold != nil {
			<-hold
		}
		if s.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: keys})
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...jwkset.JWKMarshal) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func (s *jwksServer) setHold(ch chan struct{}) {
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
}

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// waitUntil polls cond until it holds or d passes.
func waitUntil(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readyVerifier starts a Verifier on srv and waits until its key set is fetched.
func readyVerifier(tb testing.TB, cfg Config) *Verifier {
	tb.Helper()
	v, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(v.Close)
	waitUntil(tb, 5*time.Second, "key set fetched", func() bool { return v.Ready() == nil })
	return v
}
