package ws

import (
	"net/http"
	"net/url"
	"strings"
)

// OriginAllowed applies a socket Origin allow-list to an upgrade request: no
// Origin (a non-browser client) is allowed; an empty list allows only the
// server's own origin (the request's Host); "*" allows any. Every socket
// route of the node (/ws, /status/ws, /admin/ws) uses it.
func OriginAllowed(allowed []string, r *http.Request) bool {
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
