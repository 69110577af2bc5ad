package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

func octJWK(tb testing.TB, kid string, secret []byte) jwkset.JWKMarshal {
	tb.Helper()
	j, err := jwkset.NewJWKFromKey(secret, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgHS256},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return j.Marshal()
}

// TestVerifyKeySet checks ES256 and RS256 tokens against a local key set,
// and every way of presenting a token the key set did not sign.
func TestVerifyKeySet(t *testing.T) {
	es := loadKey(t, "es256", "es-1")
	rs := loadKey(t, "rs256", "rs-1")
	foreignES := loadKey(t, "foreign-es256", "es-1") // same kid, another key
	foreignRS := loadKey(t, "foreign-rs256", "rs-1")
	octSecret := []byte("an-oct-key-in-the-set-0123456789")
	srv := newJWKSServer(t, es.jwk(t), rs.jwk(t), octJWK(t, "oct-1", octSecret))
	secret := []byte("legacy-secret-legacy-secret-0123")
	v := readyVerifier(t, Config{Secret: secret, SupabaseURL: srv.URL + "/", Refetch: time.Hour})

	iss := srv.URL + "/auth/v1"
	exp := time.Now().Add(time.Hour)
	ok := func(sub string) jwt.MapClaims {
		return jwt.MapClaims{"sub": sub, "exp": exp.Unix(), "aud": "authenticated", "iss": iss, "role": "authenticated"}
	}
	with := func(c jwt.MapClaims, k string, val any) jwt.MapClaims {
		c[k] = val
		if val == nil {
			delete(c, k)
		}
		return c
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	esPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: es.publicDER(t)})
	esJWK, _ := json.Marshal(es.jwk(t))
	cases := []struct {
		name, token, sub string
	}{
		{"ES256", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", ok("u-es")), "u-es"},
		{"RS256", signToken(t, jwt.SigningMethodRS256, rs.priv, "rs-1", ok("u-rs")), "u-rs"},
		{"no aud", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", with(ok("u-na"), "aud", nil)), "u-na"},
		{"legacy HS256 still", signToken(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "u-hs", "exp": exp.Unix()}), "u-hs"},
		{"unknown kid", signToken(t, jwt.SigningMethodES256, es.priv, "es-2", ok("u")), ""},
		{"no kid", signToken(t, jwt.SigningMethodES256, es.priv, "", ok("u")), ""},
		{"another ES256 key, same kid", signToken(t, jwt.SigningMethodES256, foreignES.priv, "es-1", ok("u")), ""},
		{"another RS256 key, same kid", signToken(t, jwt.SigningMethodRS256, foreignRS.priv, "rs-1", ok("u")), ""},
		{"ES256 naming the RSA key", signToken(t, jwt.SigningMethodES256, es.priv, "rs-1", ok("u")), ""},
		{"RS256 naming the EC key", signToken(t, jwt.SigningMethodRS256, rs.priv, "es-1", ok("u")), ""},
		{"wrong iss", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", with(ok("u"), "iss", "https://evil.example/auth/v1")), ""},
		{"no iss", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", with(ok("u"), "iss", nil)), ""},
		{"wrong aud", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", with(ok("u"), "aud", "anon")), ""},
		{"expired", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", with(ok("u"), "exp", time.Now().Add(-time.Minute).Unix())), ""},
		{"no exp", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", with(ok("u"), "exp", nil)), ""},
		{"no sub", signToken(t, jwt.SigningMethodES256, es.priv, "es-1", with(ok("u"), "sub", nil)), ""},
		{"alg none with kid", signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "es-1", ok("u")), ""},
		{"HS256 with the public key DER as secret", signToken(t, jwt.SigningMethodHS256, es.publicDER(t), "es-1", ok("u")), ""},
		{"HS256 with the public key PEM as secret", signToken(t, jwt.SigningMethodHS256, esPEM, "es-1", ok("u")), ""},
		{"HS256 with the public JWK as secret", signToken(t, jwt.SigningMethodHS256, esJWK, "es-1", ok("u")), ""},
		{"HS256 with an oct key of the set", signToken(t, jwt.SigningMethodHS256, octSecret, "oct-1", ok("u")), ""},
		{"ES384", signToken(t, jwt.SigningMethodES384, p384, "es-1", ok("u")), ""},
		{"garbage", "a.b.c", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, gotExp, err := v.Verify(tc.token)
			if tc.sub == "" {
				if err == nil {
					t.Fatalf("accepted, sub %q", sub)
				}
				return
			}
			if err != nil || sub != tc.sub {
				t.Fatalf("sub %q err %v", sub, err)
			}
			if gotExp.Unix() != exp.Unix() {
				t.Fatalf("expiry %v, want %v", gotExp, exp)
			}
		})
	}

	t.Run("without a JWT secret HS256 is refused", func(t *testing.T) {
		v := readyVerifier(t, Config{SupabaseURL: srv.URL, Refetch: time.Hour})
		if _, _, err := v.Verify(signToken(t, jwt.SigningMethodHS256, []byte{}, "", jwt.MapClaims{"sub": "u", "exp": exp.Unix()})); err == nil {
			t.Fatal("HS256 with an empty secret accepted")
		}
		if _, _, err := v.Verify(signToken(t, jwt.SigningMethodHS256, es.publicDER(t), "es-1", ok("u"))); err == nil {
			t.Fatal("HS256 with the public key accepted")
		}
		if _, err := v.Issue("u", time.Minute); err == nil {
			t.Fatal("issued a token without a secret")
		}
		if sub, _, err := v.Verify(cases[0].token); err != nil || sub != "u-es" {
			t.Fatalf("ES256: %q %v", sub, err)
		}
	})
}

// TestKeySetRefetch: a rotated key is accepted once the key set is fetched
// again; an unknown kid fetches at most once per Refetch interval, and a
// burst of them shares one fetch.
func TestKeySetRefetch(t *testing.T) {
	a := loadKey(t, "es256", "key-a")
	b := loadKey(t, "foreign-es256", "key-b")
	srv := newJWKSServer(t, a.jwk(t))
	clock := newFakeClock(time.Now())
	v := readyVerifier(t, Config{SupabaseURL: srv.URL, Refetch: time.Minute, Now: clock.Now})
	iss := srv.URL + "/auth/v1"
	tok := func(k testKey, sub string) string {
		return signToken(t, jwt.SigningMethodES256, k.priv, k.kid, jwt.MapClaims{"sub": sub, "exp": clock.Now().Add(time.Hour).Unix(), "iss": iss})
	}
	if _, _, err := v.Verify(tok(a, "u")); err != nil {
		t.Fatalf("key a: %v", err)
	}
	fetches := v.keys.fetchCount()

	// Rotation: the project now signs with b. Within the minute after the
	// last fetch, b's kid is unknown and nothing is fetched.
	srv.setKeys(a.jwk(t), b.jwk(t))
	clock.Advance(30 * time.Second)
	if _, _, err := v.Verify(tok(b, "u")); err == nil {
		t.Fatal("rotated key accepted before the refetch interval passed")
	}
	if got := v.keys.fetchCount(); got != fetches {
		t.Fatalf("%d fetches within the interval, want none", got-fetches)
	}
	clock.Advance(31 * time.Second)
	if sub, _, err := v.Verify(tok(b, "u-b")); err != nil || sub != "u-b" {
		t.Fatalf("rotated key after the interval: %q %v", sub, err)
	}
	if got := v.keys.fetchCount(); got != fetches+1 {
		t.Fatalf("%d fetches for the rotated key, want 1", got-fetches)
	}

	// A burst of unknown kids while the next fetch is allowed: one fetch,
	// shared by every caller (the server holds the request until all wait).
	clock.Advance(time.Minute)
	release := make(chan struct{})
	srv.setHold(release)
	before := srv.requests.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := b
			k.kid = "unknown-" + strings.Repeat("x", i%7)
			_, _, err := v.Verify(tok(k, "u"))
			errs <- err
		}(i)
	}
	waitUntil(t, 5*time.Second, "the burst's fetch to reach the server", func() bool { return srv.requests.Load() > before })
	close(release)
	wg.Wait()
	srv.setHold(nil)
	close(errs)
	for err := range errs {
		if err == nil {
			t.Fatal("an unknown kid was accepted")
		}
	}
	if got := srv.requests.Load() - before; got != 1 {
		t.Fatalf("a burst of 50 unknown kids made %d requests, want 1", got)
	}
	// And right after it, still none.
	if _, _, err := v.Verify(tok(testKey{kid: "unknown-again", alg: b.alg, priv: b.priv}, "u")); err == nil {
		t.Fatal("unknown kid accepted")
	}
	if got := srv.requests.Load() - before; got != 1 {
		t.Fatalf("%d requests after the burst, want 1", got)
	}
}

// TestKeySetRetriedUntilFetched: a key set that cannot be fetched at start
// is retried in the background; Ready fails until it is fetched, and
// verification works from then on. Failures are logged without tokens.
func TestKeySetRetriedUntilFetched(t *testing.T) {
	k := loadKey(t, "es256", "k1")
	srv := newJWKSServer(t, k.jwk(t))
	srv.failing.Store(true)
	var logs syncBuffer
	v, err := New(Config{SupabaseURL: srv.URL, Retry: 10 * time.Millisecond, Refetch: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	token := signToken(t, jwt.SigningMethodES256, k.priv, "k1", jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix(), "iss": srv.URL + "/auth/v1"})
	waitUntil(t, 5*time.Second, "three failed fetches", func() bool { return srv.requests.Load() >= 3 })
	if v.Ready() == nil {
		t.Fatal("ready while the key set was never fetched")
	}
	if _, _, err := v.Verify(token); err == nil {
		t.Fatal("token accepted without a key set")
	}
	srv.failing.Store(false)
	waitUntil(t, 5*time.Second, "ready once the key set answers", func() bool { return v.Ready() == nil })
	if sub, _, err := v.Verify(token); err != nil || sub != "u" {
		t.Fatalf("after the fetch: %q %v", sub, err)
	}
	if !strings.Contains(logs.String(), "cannot fetch the Supabase key set") {
		t.Fatalf("fetch failures not logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), strings.Split(token, ".")[2]) {
		t.Fatal("a token reached the log")
	}
	// Close ends the loop: no more requests.
	v.Close()
	n := srv.requests.Load()
	v.Close()
	if _, _, err := v.Verify(token); err != nil {
		t.Fatalf("cached keys stop working after Close: %v", err)
	}
	if srv.requests.Load() != n {
		t.Fatal("requests after Close")
	}
}

func TestNewConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"secret only", Config{Secret: []byte("s")}, true},
		{"nothing", Config{}, false},
		{"ftp url", Config{SupabaseURL: "ftp://x.example"}, false},
		{"no host", Config{SupabaseURL: "https://"}, false},
		{"relative", Config{SupabaseURL: "abc.supabase.co"}, false},
		{"query", Config{SupabaseURL: "https://abc.supabase.co/?x=1"}, false},
		{"https", Config{SupabaseURL: "https://127.0.0.1:1", Retry: time.Hour}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if v != nil {
				v.Close()
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

// TestSupabaseShapedKeySet reads a key set written the way Supabase
// publishes it (key_ops, ext, use beside the key), with an Ed25519 key
// beside it that no ES256/RS256 token may use.
func TestSupabaseShapedKeySet(t *testing.T) {
	es := loadKey(t, "es256", "b7c0f6a2-1e1d-4b8e-9a53-0e0f5c2d9f11")
	j := es.jwk(t)
	doc := fmt.Sprintf(`{"keys":[{"alg":"ES256","crv":"P-256","ext":true,"key_ops":["verify"],"kid":%q,"kty":"EC","use":"sig","x":%q,"y":%q},`+
		`{"kty":"OKP","crv":"Ed25519","kid":"ed-1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","key_ops":["verify"],"ext":true}]}`, j.KID, j.X, j.Y)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, doc)
	}))
	t.Cleanup(srv.Close)
	v := readyVerifier(t, Config{SupabaseURL: srv.URL, Refetch: time.Hour})
	c := jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix(), "iss": srv.URL + "/auth/v1", "aud": "authenticated"}
	if sub, _, err := v.Verify(signToken(t, jwt.SigningMethodES256, es.priv, j.KID, c)); err != nil || sub != "u" {
		t.Fatalf("Supabase-shaped key set: %q %v", sub, err)
	}
	if _, _, err := v.Verify(signToken(t, jwt.SigningMethodES256, es.priv, "ed-1", c)); err == nil {
		t.Fatal("ES256 token accepted with an Ed25519 key's kid")
	}
}
