package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/getsentry/sentry-go"
)

const testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"

func TestScrubText(t *testing.T) {
	sc := newScrubber("admin-secret-1", "", "test-secret-22", "admin-secret-1-longer")
	cases := []struct{ name, in, want string }{
		{"plain text stays", "user u1 queued in eu", "user u1 queued in eu"},
		{"jwt anywhere", "bad token " + testJWT + " seen", "bad token [Filtered] seen"},
		{"unsigned jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.", "[Filtered]"},
		{"configured secret", "key admin-secret-1 refused", "key [Filtered] refused"},
		{"longer secret removed whole", "admin-secret-1-longer", "[Filtered]"},
		{"access_token in url", "http://h/ws?access_token=abc.def&x=1", "http://h/ws?access_token=[Filtered]&x=1"},
		{"admin_key in query string", "admin_key=k1&access_token=zz", "admin_key=[Filtered]&access_token=[Filtered]"},
		{"query key case", "/admin/ws?Admin_Key=k", "/admin/ws?Admin_Key=[Filtered]"},
		{"other parameters stay", "/x?pool=eu&page=2", "/x?pool=eu&page=2"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := sc.text(c.in); got != c.want {
				t.Fatalf("text(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestScrubEvent(t *testing.T) {
	sc := newScrubber("admin-secret-1", "test-secret-22", "jwt-secret-333")
	shared := &sentry.Breadcrumb{Message: "GET /ws?access_token=" + testJWT, Data: map[string]any{"url": "/admin/ws?admin_key=admin-secret-1"}}
	ev := &sentry.Event{
		Message:     "login failed for " + testJWT,
		Fingerprint: []string{"x", testJWT},
		Tags:        map[string]string{"key": "test-secret-22", "pool": "eu"},
		Contexts:    map[string]sentry.Context{"log": {"err": "signing with jwt-secret-333", "n": 3, "nested": map[string]any{"t": testJWT}, "list": []any{"admin-secret-1"}}},
		Exception:   []sentry.Exception{{Type: "*errors.errorString", Value: "bad " + testJWT}},
		Breadcrumbs: []*sentry.Breadcrumb{shared, nil},
		Request: &sentry.Request{
			URL:         "http://h/ws?access_token=" + testJWT,
			QueryString: "access_token=" + testJWT + "&admin_key=admin-secret-1",
			Cookies:     "sb=" + testJWT,
			Headers: map[string]string{
				"Authorization": "Bearer " + testJWT, "X-Admin-Key": "admin-secret-1", "X-Test-Api-Key": "test-secret-22",
				"Cookie": "sb=1", "User-Agent": "ua",
			},
		},
		User:  sentry.User{ID: "u1", Data: map[string]string{"token": "tok"}},
		Spans: []*sentry.Span{{Description: "GET /?access_token=abc", Data: map[string]any{"q": testJWT}}},
	}
	out := sc.event(ev)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{testJWT, "eyJ", "admin-secret-1", "test-secret-22", "jwt-secret-333", "sb=", "tok\"", "abc"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("scrubbed event still holds %q: %s", secret, b)
		}
	}
	for _, kept := range []string{`"pool":"eu"`, `"User-Agent":"ua"`, `"n":3`, `"id":"u1"`} {
		if !strings.Contains(string(b), kept) {
			t.Errorf("scrubbed event lost %s: %s", kept, b)
		}
	}
	if !strings.Contains(shared.Message, testJWT) || !strings.Contains(shared.Data["url"].(string), "admin-secret-1") {
		t.Errorf("the scope's own breadcrumb was modified: %+v", shared)
	}
	if sc.event(nil) != nil {
		t.Error("nil event")
	}
}

func TestConfigSecrets(t *testing.T) {
	cfg := Config{AdminKey: "a", TestKey: "b", JWTSecret: []byte("c"), DatabaseURL: "postgres://u:dbpass@h/db"}
	cfg.Cluster.Keys = [][]byte{[]byte("0123456789abcdef")}
	got := configSecrets(cfg)
	if strings.Join(got, ",") != "a,b,c,MDEyMzQ1Njc4OWFiY2RlZg==,dbpass" {
		t.Fatalf("configSecrets = %v", got)
	}
}
