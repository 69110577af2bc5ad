package main

import (
	"strings"

	"github.com/spinmatch/spinmatch/transport/auth"
)

// loadAuth reads the Supabase settings (PROTOCOL.md, Identity and
// authentication): SUPABASE_URL, whose key set verifies ES256 and RS256
// tokens, and SUPABASE_ANON_KEY, which the page uses to sign users in. In
// production at least one of JWT_SECRET and SUPABASE_URL is required.
// loadConfig has read JWT_SECRET into c.JWTSecret.
func loadAuth(getenv func(string) string, c *Config) error {
	if v := getenv("SUPABASE_URL"); v != "" {
		u, err := auth.ParseSupabaseURL(v)
		if err != nil {
			return &configError{"SUPABASE_URL", "must be an http(s) URL such as https://abc.supabase.co, not " + quoteShort(v)}
		}
		c.SupabaseURL = u
	}
	if v := strings.TrimSpace(getenv("SUPABASE_ANON_KEY")); v != "" {
		if c.SupabaseURL == "" {
			return &configError{"SUPABASE_ANON_KEY", "needs SUPABASE_URL (the project it belongs to)"}
		}
		if strings.ContainsAny(v, " \t\r\n\"'<>") || len(v) > 4096 {
			return &configError{"SUPABASE_ANON_KEY", "must be the project's anon (publishable) key as Supabase shows it"}
		}
		c.SupabaseAnonKey = v
	}
	if !c.Development && len(c.JWTSecret) == 0 && c.SupabaseURL == "" {
		return &configError{"JWT_SECRET or SUPABASE_URL", "is required in production (JWT_SECRET for HS256 tokens, SUPABASE_URL for the project's signing keys)"}
	}
	return nil
}

// quoteShort quotes v for an error line, cut to 80 bytes.
func quoteShort(v string) string {
	if len(v) > 80 {
		v = v[:80] + "..."
	}
	return `"` + v + `"`
}
