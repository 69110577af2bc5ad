// Package auth checks who is calling: user JWTs (HS256, Supabase-compatible
// claims), the admin key and the test key. A Verifier is static after
// construction and safe for concurrent use. Tokens are never logged.
package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrNoToken is returned when a request carries no credentials.
var ErrNoToken = errors.New("auth: no token")

// Audience is the aud claim Supabase access tokens carry.
const Audience = "authenticated"

// Verifier checks and (in development) issues user tokens.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
	now    func() time.Time
}

// NewVerifier returns a Verifier for HS256 tokens signed with secret.
func NewVerifier(secret []byte) *Verifier {
	v := &Verifier{secret: secret, now: time.Now}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
		jwt.WithLeeway(5*time.Second),
	)
	return v
}

type claims struct {
	jwt.RegisteredClaims
}

// Verify returns the user id (sub) of a valid token. It refuses expired,
// unsigned (alg none), wrongly signed tokens, tokens without exp or sub, and
// tokens whose aud is present but is not "authenticated".
func (v *Verifier) Verify(token string) (string, error) {
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	if len(c.Audience) > 0 && !containsString(c.Audience, Audience) {
		return "", errors.New("auth: wrong audience")
	}
	if c.Subject == "" || len(c.Subject) > 128 {
		return "", errors.New("auth: no subject")
	}
	return c.Subject, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Issue signs a token for userID valid for ttl (development tokens).
func (v *Verifier) Issue(userID string, ttl time.Duration) (string, error) {
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
