package main

import (
	"net/http"
	"testing"
)

// TestOperatorRoutesNeedTheirKeys: in production /debug/pprof/ answers 404
// without ADMIN_API_KEY configured, 401 without the key or with a wrong one,
// and 200 with it; in development with no key it is open.
func TestOperatorRoutesNeedTheirKeys(t *testing.T) {
	get := func(base string, header http.Header) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/debug/pprof/", nil)
		req.Header = header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// One node at a time: several in one process race inside the pinned
	// protoactor-go (grpclog's global logger) under -race.
	t.Run("production, no admin key configured", func(t *testing.T) {
		prod := testConfig(t)
		prod.Development = false
		n := startNode(t, prod)
		if code := get("http://"+n.Addr(), http.Header{"X-Admin-Key": {"guess"}}); code != 404 {
			t.Errorf("%d, want 404", code)
		}
	})
	t.Run("production, admin key configured", func(t *testing.T) {
		prod := testConfig(t)
		prod.Development, prod.AdminKey = false, "admin-key-for-the-test"
		base := "http://" + startNode(t, prod).Addr()
		for _, tc := range []struct {
			name   string
			header http.Header
			want   int
		}{
			{"no key", http.Header{}, 401},
			{"wrong key", http.Header{"X-Admin-Key": {"admin-key-for-the-tesT"}}, 401},
			{"key in X-Admin-Key", http.Header{"X-Admin-Key": {"admin-key-for-the-test"}}, 200},
			{"key as bearer", http.Header{"Authorization": {"Bearer admin-key-for-the-test"}}, 200},
		} {
			if code := get(base, tc.header); code != tc.want {
				t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
			}
		}
	})
	t.Run("development, no key configured", func(t *testing.T) {
		if code := get("http://"+startNode(t, testConfig(t)).Addr(), http.Header{}); code != 200 {
			t.Errorf("%d, want 200 (open)", code)
		}
	})
}
