package ws

import (
	"net/http"
	"net/url"
	"strings"
)

// OriginAllowed applies an Origin allow-list to a socket upgrade (every
// socket of the node uses it: /ws and /admin/ws). No Origin (a non-browser
// client) is allowed; an empty list allows only the server's own origin
// (the request's Host); "*" allows any.
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(allowed) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, o := range allowed {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}
