package main

import (
	"strings"
	"testing"
)

func TestLoadAuthConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	t.Run("production with SUPABASE_URL only", func(t *testing.T) {
		c, err := loadConfig(env("SPIN_ENV", "production", "SPIN_CLUSTER_KEY", devClusterKey, "SUPABASE_URL", "https://abc.supabase.co/", "SUPABASE_ANON_KEY", "sb_publishable_x"))
		if err != nil {
			t.Fatal(err)
		}
		if c.SupabaseURL != "https://abc.supabase.co" || c.SupabaseAnonKey != "sb_publishable_x" || len(c.JWTSecret) != 0 || c.JWTGenerated {
			t.Fatalf("config %q %q %q %v", c.SupabaseURL, c.SupabaseAnonKey, c.JWTSecret, c.JWTGenerated)
		}
	})
	t.Run("production with both", func(t *testing.T) {
		c, err := loadConfig(env("SPIN_ENV", "production", "SPIN_CLUSTER_KEY", devClusterKey, "SUPABASE_URL", "http://127.0.0.1:54321", "JWT_SECRET", "s"))
		if err != nil || c.SupabaseURL != "http://127.0.0.1:54321" || string(c.JWTSecret) != "s" {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("development keeps a random secret beside SUPABASE_URL", func(t *testing.T) {
		c, err := loadConfig(env("SPIN_ENV", "development", "SUPABASE_URL", "https://abc.supabase.co"))
		if err != nil || !c.JWTGenerated || c.SupabaseURL == "" {
			t.Fatalf("%+v %v", c, err)
		}
	})
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"production with neither", []string{"SPIN_ENV", "production", "SPIN_CLUSTER_KEY", devClusterKey}, []string{"JWT_SECRET", "SUPABASE_URL"}},
		{"not a URL", []string{"SUPABASE_URL", "abc.supabase.co"}, []string{"SUPABASE_URL"}},
		{"not http", []string{"SUPABASE_URL", "ftp://abc.supabase.co"}, []string{"SUPABASE_URL"}},
		{"anon key without URL", []string{"SUPABASE_ANON_KEY", "k"}, []string{"SUPABASE_ANON_KEY"}},
		{"anon key with spaces", []string{"SUPABASE_URL", "https://a.example", "SUPABASE_ANON_KEY", "a b"}, []string{"SUPABASE_ANON_KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(env(tc.env...))
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err %q does not name %s", err, w)
				}
			}
		})
	}
}
