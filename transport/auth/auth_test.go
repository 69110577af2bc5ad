package auth

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret-s3cret-s3cret-s3cret-s3cret")
	v := NewVerifier(secret)
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := time.Now().Add(time.Hour).Unix()
	issued, err := v.Issue("u1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token, sub string
	}{
		{"issued", issued, "u1"},
		{"supabase claims", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u2", "exp": exp, "aud": "authenticated", "role": "authenticated"}), "u2"},
		{"no aud", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u3", "exp": exp}), "u3"},
		{"wrong aud", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u", "exp": exp, "aud": "anon"}), ""},
		{"expired", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(-time.Minute).Unix()}), ""},
		{"no exp", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u"}), ""},
		{"no sub", sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp}), ""},
		{"wrong key", sign(jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"sub": "u", "exp": exp}), ""},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "u", "exp": exp}), ""},
		{"HS512", sign(jwt.SigningMethodHS512, secret, jwt.MapClaims{"sub": "u", "exp": exp}), ""},
		{"garbage", "a.b.c", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, _, err := v.Verify(tc.token)
			if tc.sub == "" {
				if err == nil {
					t.Fatalf("accepted, sub %q", sub)
				}
				return
			}
			if err != nil || sub != tc.sub {
				t.Fatalf("sub %q err %v", sub, err)
			}
		})
	}
}

func TestBearerTokenAndKeys(t *testing.T) {
	r := httptest.NewRequest("GET", "/ws?access_token=q&admin_key=k", nil)
	if tok, _ := BearerToken(r, true); tok != "q" {
		t.Fatalf("query token %q", tok)
	}
	if _, err := BearerToken(r, false); err != ErrNoToken {
		t.Fatalf("query token used when not allowed: %v", err)
	}
	r.Header.Set("Authorization", "Bearer h")
	if tok, _ := BearerToken(r, true); tok != "h" {
		t.Fatalf("header token %q", tok)
	}
	r.Header.Set("Authorization", "Basic xyz")
	if _, err := BearerToken(r, true); err == nil {
		t.Fatal("Basic accepted")
	}
	if !KeyMatches("k", "k") || KeyMatches("k", "") || KeyMatches("", "") || KeyMatches("x", "k") {
		t.Fatal("KeyMatches")
	}
	r.Header.Del("Authorization")
	if AdminKey(r, true) != "k" || AdminKey(r, false) != "" {
		t.Fatal("AdminKey query")
	}
}
