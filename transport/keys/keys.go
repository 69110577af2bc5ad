// Package keys guards the operators' routes (PROTOCOL.md, Identity, Admin,
// Test endpoints, Operations): the admin routes and /debug/pprof/ need
// ADMIN_API_KEY, the test endpoints TEST_API_KEY. A Gate is static after
// construction and safe for concurrent use.
package keys

import (
	"net/http"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/transport/auth"
)

// Who a request was let in as, for the audit log: never a key's value.
const (
	ActorAdminKey    = "admin-key"
	ActorTestKey     = "test-key"
	ActorDevelopment = "development"
)

// ErrorWriter writes an HTTP JSON error (PROTOCOL.md, Errors).
type ErrorWriter func(w http.ResponseWriter, code, message string)

// Gate lets a request through when it presents the configured key.
//
//   - key set: the key is required (401 unauthorized without it or with a
//     wrong one), in both modes;
//   - key unset, development: open, the request is let in as "development";
//   - key unset, production: the routes do not exist (404 not_found), so an
//     unconfigured deployment exposes nothing.
type Gate struct {
	key         string
	development bool
	present     func(r *http.Request) string
	actor       string
	writeErr    ErrorWriter
}

// Admin returns the gate of the admin routes: Authorization Bearer or
// X-Admin-Key, and (allowQuery, for the admin socket) ?admin_key=.
func Admin(key string, development, allowQuery bool, writeErr ErrorWriter) *Gate {
	return &Gate{key: key, development: development, actor: ActorAdminKey, writeErr: writeErr,
		present: func(r *http.Request) string { return auth.AdminKey(r, allowQuery) }}
}

// Test returns the gate of the test endpoints: x-test-api-key.
func Test(key string, development bool, writeErr ErrorWriter) *Gate {
	return &Gate{key: key, development: development, actor: ActorTestKey, writeErr: writeErr,
		present: func(r *http.Request) string { return r.Header.Get("X-Test-Api-Key") }}
}

// Open reports whether the routes are open without a key (development
// with no key set); the admin page says so.
func (g *Gate) Open() bool { return g.key == "" && g.development }

// Check decides for r: it returns who the caller is (for the audit log) and
// true, or writes the refusal and returns false.
func (g *Gate) Check(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch {
	case g.key == "" && g.development:
		return ActorDevelopment, true
	case g.key == "":
		g.writeErr(w, actors.CodeNotFound, "There's no such API route.")
		return "", false
	case auth.KeyMatches(g.present(r), g.key):
		return g.actor, true
	default:
		g.writeErr(w, actors.CodeUnauthorized, "This needs a valid key.")
		return "", false
	}
}

// Wrap guards next.
func (g *Gate) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.Check(w, r); ok {
			next.ServeHTTP(w, r)
		}
	})
}
