package keys

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGate(t *testing.T) {
	writeErr := func(w http.ResponseWriter, code, _ string) {
		status := map[string]int{"not_found": 404, "unauthorized": 401}[code]
		w.WriteHeader(status)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	cases := []struct {
		name        string
		gate        *Gate
		header, val string
		query       string
		want        int
	}{
		{"admin, production, no key configured", Admin("", false, false, writeErr), "X-Admin-Key", "anything", "", 404},
		{"admin, development, no key configured", Admin("", true, false, writeErr), "", "", "", 204},
		{"admin, key missing", Admin("k3y", true, false, writeErr), "", "", "", 401},
		{"admin, wrong key", Admin("k3y", false, false, writeErr), "X-Admin-Key", "nope", "", 401},
		{"admin, X-Admin-Key", Admin("k3y", false, false, writeErr), "X-Admin-Key", "k3y", "", 204},
		{"admin, bearer", Admin("k3y", false, false, writeErr), "Authorization", "Bearer k3y", "", 204},
		{"admin, query refused on REST", Admin("k3y", false, false, writeErr), "", "", "?admin_key=k3y", 401},
		{"admin, query on the socket", Admin("k3y", false, true, writeErr), "", "", "?admin_key=k3y", 204},
		{"test, production, no key configured", Test("", false, writeErr), "X-Test-Api-Key", "x", "", 404},
		{"test, right key", Test("t", false, writeErr), "x-test-api-key", "t", "", 204},
		{"test, admin key does not open it", Test("t", false, writeErr), "X-Admin-Key", "t", "", 401},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/x"+tc.query, nil)
		if tc.header != "" {
			r.Header.Set(tc.header, tc.val)
		}
		w := httptest.NewRecorder()
		tc.gate.Wrap(ok).ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
}
