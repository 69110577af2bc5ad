package main

import (
	"strings"
	"testing"
)

func TestLoadPageConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{"SPIN_ENV": "production", "JWT_SECRET": "x", "SPIN_CLUSTER_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := loadConfig(env("SUPABASE_URL", "https://abcd.supabase.co/", "SUPABASE_ANON_KEY", " anon ", "SPIN_SIGNIN_URL", "/login"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SupabaseURL != "https://abcd.supabase.co" || c.SupabaseAnonKey != "anon" || c.SignInURL != "/login" {
		t.Fatalf("page config %q %q %q", c.SupabaseURL, c.SupabaseAnonKey, c.SignInURL)
	}
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"project not a URL", []string{"SUPABASE_URL", "abcd.supabase.co"}, "SUPABASE_URL"},
		{"project with a query", []string{"SUPABASE_URL", "https://abcd.supabase.co/?x=1"}, "SUPABASE_URL"},
		{"anon key without project", []string{"SUPABASE_ANON_KEY", "anon"}, "SUPABASE_ANON_KEY"},
		{"sign-in link scheme", []string{"SPIN_SIGNIN_URL", "javascript:alert(1)"}, "SPIN_SIGNIN_URL"},
		{"sign-in link protocol-relative", []string{"SPIN_SIGNIN_URL", "//evil.example"}, "SPIN_SIGNIN_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(env(tc.env...))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line naming %s", err, tc.want)
			}
		})
	}
}
