package main

import (
	"net/url"
	"strings"
)

// loadPage reads what the user page needs beyond the Supabase settings
// (loadAuth; README, Sign-in on the page): SPIN_SIGNIN_URL, the main app's
// sign-in address for production without SUPABASE_ANON_KEY.
func loadPage(getenv func(string) string, c *Config) error {
	if v := getenv("SPIN_SIGNIN_URL"); v != "" {
		if !absoluteHTTP(v) && !(strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.ContainsAny(v, " \t\r\n\"'<>\\")) {
			return &configError{"SPIN_SIGNIN_URL", "must be an http(s) address or a path starting with /, not " + quoteShort(v)}
		}
		c.SignInURL = v
	}
	return nil
}

// absoluteHTTP reports whether v is an http or https URL with a host and
// no credentials.
func absoluteHTTP(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.User == nil && !strings.ContainsAny(v, " \t\r\n\"'<>\\")
}
