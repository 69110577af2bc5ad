package main

import (
	"runtime/debug"
	"strconv"
)

// loadSentry reads the Sentry settings (PROTOCOL.md, Configuration):
// SENTRY_DSN (unset: Sentry off), SENTRY_ENVIRONMENT (default: the SPIN_ENV
// mode), SENTRY_RELEASE (default: the build's version), SENTRY_SAMPLE_RATE
// (errors, default 1) and SENTRY_TRACES_SAMPLE_RATE (default 0: no
// transactions). Call it after SPIN_ENV is read.
func loadSentry(getenv func(string) string, c *Config) error {
	c.SentryDSN = getenv("SENTRY_DSN")
	c.SentryEnv = getenv("SENTRY_ENVIRONMENT")
	if c.SentryEnv == "" {
		c.SentryEnv = envMode(c.Development)
	}
	c.SentryRelease = getenv("SENTRY_RELEASE")
	if c.SentryRelease == "" {
		c.SentryRelease = buildRelease(debug.ReadBuildInfo())
	}
	rates := []struct {
		name string
		dst  *float64
		def  float64
	}{
		{"SENTRY_SAMPLE_RATE", &c.SentrySample, 1},
		{"SENTRY_TRACES_SAMPLE_RATE", &c.SentryTraces, 0},
	}
	for _, r := range rates {
		*r.dst = r.def
		v := getenv(r.name)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return &configError{r.name, "must be a number from 0 to 1, not " + strconv.Quote(v)}
		}
		*r.dst = f
	}
	return nil
}

// envMode names the SPIN_ENV mode.
func envMode(development bool) string {
	if development {
		return "development"
	}
	return "production"
}

// buildRelease is the release of this build: spinmatch@ and the VCS
// revision it was built from (with -dirty for uncommitted changes), else
// its module version; "" when the build says neither (go run, go test).
func buildRelease(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		return "spinmatch@" + rev + dirty
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return "spinmatch@" + v
	}
	return ""
}
