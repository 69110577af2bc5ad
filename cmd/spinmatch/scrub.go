package main

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/getsentry/sentry-go"
)

// filtered replaces whatever the scrubber removes.
const filtered = "[Filtered]"

// Headers whose values are credentials (compared case-insensitively).
var secretHeaders = []string{"authorization", "x-admin-key", "x-test-api-key", "cookie", "set-cookie", "proxy-authorization"}

var (
	// jwtPattern matches a JSON Web Token: three base64url segments, the
	// first of which opens a JSON object ("eyJ" is `{"`).
	jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	// queryPattern matches the value of a credential query parameter, in
	// a URL or a bare query string.
	queryPattern = regexp.MustCompile(`(?i)((?:^|[?&;])(?:access_token|admin_key|token|api_key)=)[^&#\s"']*`)
)

// scrubber removes tokens and keys from Sentry events before they leave the
// process (BeforeSend, BeforeSendTransaction): credential headers and
// cookies, credential query parameters, anything shaped like a JWT, and the
// configured secret values wherever they appear. Immutable after
// newScrubber; safe for concurrent use. It never modifies what an event
// shares with a live scope (breadcrumbs, maps): it writes copies.
type scrubber struct {
	secrets []string // longest first, so one secret inside another is still removed whole
}

// newScrubber returns a scrubber for the given secret values (empty ones
// are ignored).
func newScrubber(secrets ...string) *scrubber {
	s := &scrubber{}
	for _, v := range secrets {
		if v != "" && !slices.Contains(s.secrets, v) {
			s.secrets = append(s.secrets, v)
		}
	}
	slices.SortFunc(s.secrets, func(a, b string) int { return len(b) - len(a) })
	return s
}

// configSecrets lists the configured secret values: the admin and test
// keys, the JWT secret, the cluster keys (as SPIN_CLUSTER_KEY spells them,
// base64) and the database password.
func configSecrets(cfg Config) []string {
	out := []string{cfg.AdminKey, cfg.TestKey, string(cfg.JWTSecret)}
	for _, k := range cfg.Cluster.Keys {
		out = append(out, base64.StdEncoding.EncodeToString(k))
	}
	if u, err := url.Parse(cfg.DatabaseURL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	return out
}

// text returns v without tokens, credential parameters or secrets.
func (s *scrubber) text(v string) string {
	if v == "" {
		return v
	}
	for _, sec := range s.secrets {
		if strings.Contains(v, sec) {
			v = strings.ReplaceAll(v, sec, filtered)
		}
	}
	if strings.Contains(v, "eyJ") {
		v = jwtPattern.ReplaceAllString(v, filtered)
	}
	if strings.Contains(v, "=") {
		v = queryPattern.ReplaceAllString(v, "${1}"+filtered)
	}
	return v
}

// value returns a scrubbed copy of v: strings scrubbed, maps and slices
// copied with their elements scrubbed; other values as they are.
func (s *scrubber) value(v any) any {
	switch v := v.(type) {
	case string:
		return s.text(v)
	case []byte:
		return s.text(string(v))
	case map[string]any:
		return s.anyMap(v)
	case map[string]string:
		return s.stringMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = s.value(e)
		}
		return out
	case []string:
		out := make([]string, len(v))
		for i, e := range v {
			out[i] = s.text(e)
		}
		return out
	}
	return v
}

func (s *scrubber) anyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if secretKey(k) {
			out[k] = filtered
			continue
		}
		out[k] = s.value(v)
	}
	return out
}

func (s *scrubber) stringMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if secretKey(k) {
			out[k] = filtered
			continue
		}
		out[k] = s.text(v)
	}
	return out
}

// secretKey reports whether a header, field or attribute of this name
// holds a credential.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	return slices.Contains(secretHeaders, k) || k == "access_token" || k == "admin_key" ||
		k == "jwt_secret" || k == "password" || k == "token"
}

// event scrubs e in place (fields it shares with a scope are replaced by
// scrubbed copies) and returns it.
func (s *scrubber) event(e *sentry.Event) *sentry.Event {
	if e == nil {
		return nil
	}
	e.Message = s.text(e.Message)
	e.Transaction = s.text(e.Transaction)
	e.Logger = s.text(e.Logger)
	for i, f := range e.Fingerprint {
		e.Fingerprint[i] = s.text(f)
	}
	e.Tags = s.stringMap(e.Tags)
	if e.Contexts != nil {
		cs := make(map[string]sentry.Context, len(e.Contexts))
		for k, c := range e.Contexts {
			cs[k] = s.anyMap(c)
		}
		e.Contexts = cs
	}
	for i := range e.Exception {
		e.Exception[i].Value = s.text(e.Exception[i].Value)
		e.Exception[i].Type = s.text(e.Exception[i].Type)
	}
	if len(e.Breadcrumbs) > 0 {
		bs := make([]*sentry.Breadcrumb, len(e.Breadcrumbs))
		for i, b := range e.Breadcrumbs {
			if b == nil {
				continue
			}
			c := *b
			c.Message = s.text(c.Message)
			c.Data = s.anyMap(c.Data)
			bs[i] = &c
		}
		e.Breadcrumbs = bs
	}
	if e.Request != nil {
		r := *e.Request
		r.URL = s.text(r.URL)
		r.QueryString = s.text(r.QueryString)
		r.Data = s.text(r.Data)
		if r.Cookies != "" {
			r.Cookies = filtered
		}
		r.Headers = s.stringMap(r.Headers)
		r.Env = s.stringMap(r.Env)
		e.Request = &r
	}
	u := &e.User
	u.Email, u.Username, u.Name = s.text(u.Email), s.text(u.Username), s.text(u.Name)
	u.Data = s.stringMap(u.Data)
	for _, sp := range e.Spans {
		if sp == nil {
			continue
		}
		sp.Description = s.text(sp.Description)
		sp.Name = s.text(sp.Name)
		sp.Tags = s.stringMap(sp.Tags)
		sp.Data = s.anyMap(sp.Data)
	}
	return e
}
