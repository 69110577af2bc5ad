package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The fuzz targets run on a fixed clock, so the committed seeds (signed
// with the keys of testdata/keys, expiring in 2030) stay valid.
var (
	fuzzNow    = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	fuzzExp    = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fuzzSecret = []byte("fuzz-legacy-secret-0123456789abcdef")
)

// fuzzSetup is one fuzz target's world: our keys, a foreign key of each
// kind, and a verifier (with the key set on a local server when jwks).
type fuzzSetup struct {
	v                    *Verifier
	es, rs               testKey
	foreignES, foreignRS testKey
	iss                  string
	jwks                 bool
}

func newFuzzSetup(tb testing.TB, jwks bool) *fuzzSetup {
	s := &fuzzSetup{
		es:        loadKey(tb, "es256", "es-1"),
		rs:        loadKey(tb, "rs256", "rs-1"),
		foreignES: loadKey(tb, "foreign-es256", "es-1"),
		foreignRS: loadKey(tb, "foreign-rs256", "rs-1"),
		jwks:      jwks,
		// The seeds name this issuer; the fuzz server's URL varies, so
		// the verifier's issuer is set to it below.
		iss: "http://127.0.0.1:1/auth/v1",
	}
	if !jwks {
		s.v = NewVerifier(fuzzSecret)
		s.v.now = func() time.Time { return fuzzNow }
		return s
	}
	srv := newJWKSServer(tb, s.es.jwk(tb), s.rs.jwk(tb), octJWK(tb, "oct-1", []byte("an-oct-key-in-the-set-0123456789")))
	// Refetch is measured on the fixed clock: after the first fetch an
	// unknown kid never fetches again, so fuzzing sends no request storm.
	s.v = readyVerifier(tb, Config{Secret: fuzzSecret, SupabaseURL: srv.URL, Refetch: time.Hour, Now: func() time.Time { return fuzzNow }})
	s.v.issuer = s.iss
	return s
}

// seeds returns named tokens for the corpus: valid ones, and the ways a
// token goes wrong.
func (s *fuzzSetup) seeds(tb testing.TB) map[string]string {
	claims := func(sub string) jwt.MapClaims {
		return jwt.MapClaims{"sub": sub, "exp": fuzzExp.Unix(), "aud": "authenticated", "iss": s.iss, "role": "authenticated"}
	}
	hs := signToken(tb, jwt.SigningMethodHS256, fuzzSecret, "", claims("u-hs"))
	out := map[string]string{
		"valid-hs256":            hs,
		"truncated-hs256":        hs[:len(hs)-10],
		"unsigned-part-hs256":    hs[:strings.LastIndex(hs, ".")+1],
		"header-only":            hs[:strings.Index(hs, ".")],
		"alg-none":               signToken(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims("u")),
		"foreign-secret-hs256":   signToken(tb, jwt.SigningMethodHS256, []byte("another-secret-entirely-0123456789"), "", claims("u")),
		"expired-hs256":          signToken(tb, jwt.SigningMethodHS256, fuzzSecret, "", jwt.MapClaims{"sub": "u", "exp": fuzzNow.Add(-time.Hour).Unix()}),
		"no-sub-hs256":           signToken(tb, jwt.SigningMethodHS256, fuzzSecret, "", jwt.MapClaims{"exp": fuzzExp.Unix()}),
		"hs256-public-key-der":   signToken(tb, jwt.SigningMethodHS256, s.es.publicDER(tb), "es-1", claims("u")),
		"garbage-dots":           "....",
		"garbage-abc":            "a.b.c",
		"garbage-json-header":    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVzLTEifQ.e30.AAAA",
		"garbage-empty":          "",
		"garbage-bytes":          "\x00\xff\xfe.\x01.\x02",
		"garbage-huge-exp-claim": signToken(tb, jwt.SigningMethodHS256, fuzzSecret, "", jwt.MapClaims{"sub": "u", "exp": 1e300}),
	}
	if s.jwks {
		es := signToken(tb, jwt.SigningMethodES256, s.es.priv, "es-1", claims("u-es"))
		out["valid-es256"] = es
		out["valid-rs256"] = signToken(tb, jwt.SigningMethodRS256, s.rs.priv, "rs-1", claims("u-rs"))
		out["truncated-es256"] = es[:len(es)-5]
		out["foreign-es256"] = signToken(tb, jwt.SigningMethodES256, s.foreignES.priv, "es-1", claims("u"))
		out["foreign-rs256"] = signToken(tb, jwt.SigningMethodRS256, s.foreignRS.priv, "rs-1", claims("u"))
		out["unknown-kid-es256"] = signToken(tb, jwt.SigningMethodES256, s.es.priv, "es-9", claims("u"))
		out["no-kid-es256"] = signToken(tb, jwt.SigningMethodES256, s.es.priv, "", claims("u"))
		out["wrong-iss-es256"] = signToken(tb, jwt.SigningMethodES256, s.es.priv, "es-1", jwt.MapClaims{"sub": "u", "exp": fuzzExp.Unix(), "iss": "https://evil.example/auth/v1"})
		out["alg-none-kid"] = signToken(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "es-1", claims("u"))
		out["oct-key-hs256"] = signToken(tb, jwt.SigningMethodHS256, []byte("an-oct-key-in-the-set-0123456789"), "oct-1", claims("u"))
	}
	return out
}

// check asserts the properties of one verification: no panic (the fuzzer
// reports it), anything accepted has a sub and an exp in the future (within
// the leeway) and is signed by one of our keys, checked here with the
// standard library alone.
func (s *fuzzSetup) check(t *testing.T, token string) {
	sub, exp, err := s.v.Verify(token)
	if err != nil {
		return
	}
	if sub == "" || len(sub) > maxSubject {
		t.Fatalf("accepted with sub %q", sub)
	}
	if !exp.After(fuzzNow.Add(-Leeway)) {
		t.Fatalf("accepted with exp %v, before now %v", exp, fuzzNow)
	}
	if !s.signedByUs(token) {
		t.Fatalf("accepted a token not signed by our keys: %q", token)
	}
}

// signedByUs verifies the signature independently of jwt and keyfunc: the
// header's alg decides, HS256 only with the secret, ES256/RS256 only with
// our key set's keys (and only when the verifier has a key set).
func (s *fuzzSetup) signedByUs(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	sig, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return false
	}
	input := []byte(parts[0] + "." + parts[1])
	sum := sha256.Sum256(input)
	switch h.Alg {
	case "HS256":
		m := hmac.New(sha256.New, fuzzSecret)
		m.Write(input)
		return hmac.Equal(m.Sum(nil), sig)
	case "ES256":
		pub := s.es.priv.Public().(*ecdsa.PublicKey)
		if !s.jwks || len(sig) != 64 {
			return false
		}
		r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, sum[:], r, ss)
	case "RS256":
		pub := s.rs.priv.Public().(*rsa.PublicKey)
		return s.jwks && rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	}
	return false
}

func fuzzVerify(f *testing.F, jwks bool) {
	s := newFuzzSetup(f, jwks)
	for _, tok := range s.seeds(f) {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, token string) { s.check(t, token) })
}

// FuzzVerifyHS256 fuzzes the legacy path: a verifier with JWT_SECRET only.
func FuzzVerifyHS256(f *testing.F) { fuzzVerify(f, false) }

// FuzzVerifyJWKS fuzzes the whole path: JWT_SECRET and a key set (ES256,
// RS256 and an oct key that must never verify anything).
func FuzzVerifyJWKS(f *testing.F) { fuzzVerify(f, true) }

// TestFuzzCorpus keeps the committed seed corpus meaningful: its valid
// seeds are accepted, the others refused, and the properties hold for
// each. SPIN_WRITE_FUZZ_SEEDS=1 rewrites it (after a key or claim change).
func TestFuzzCorpus(t *testing.T) {
	for name, jwks := range map[string]bool{"FuzzVerifyHS256": false, "FuzzVerifyJWKS": true} {
		t.Run(name, func(t *testing.T) {
			s := newFuzzSetup(t, jwks)
			dir := filepath.Join("testdata", "fuzz", name)
			if os.Getenv("SPIN_WRITE_FUZZ_SEEDS") != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for seed, tok := range s.seeds(t) {
					body := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", tok)
					if err := os.WriteFile(filepath.Join(dir, seed), []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			files, err := os.ReadDir(dir)
			if err != nil || len(files) < 10 {
				t.Fatalf("seed corpus %s: %d files, %v", dir, len(files), err)
			}
			for _, fi := range files {
				b, err := os.ReadFile(filepath.Join(dir, fi.Name()))
				if err != nil {
					t.Fatal(err)
				}
				tok, ok := parseSeed(b)
				if !ok {
					t.Fatalf("%s: not a string seed", fi.Name())
				}
				s.check(t, tok)
				_, _, err = s.v.Verify(tok)
				if valid := strings.HasPrefix(fi.Name(), "valid-"); valid != (err == nil) {
					t.Errorf("%s: err %v", fi.Name(), err)
				}
			}
		})
	}
}

// parseSeed reads a one-string corpus file.
func parseSeed(b []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("go test fuzz v1\nstring("))
	if !ok {
		return "", false
	}
	rest = bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(")"))
	var s string
	if _, err := fmt.Sscanf(string(rest), "%q", &s); err != nil {
		return "", false
	}
	return s, true
}
