package main

import (
	"errors"
	"runtime/debug"
	"strings"
	"testing"
)

func TestLoadSentry(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{"SPIN_ENV": "development"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := loadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.SentryDSN != "" || c.SentryEnv != "development" || c.SentrySample != 1 || c.SentryTraces != 0 {
		t.Fatalf("defaults: dsn %q env %q sample %v traces %v", c.SentryDSN, c.SentryEnv, c.SentrySample, c.SentryTraces)
	}
	c, err = loadConfig(env("SPIN_ENV", "production", "JWT_SECRET", "s", "SPIN_CLUSTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	if err != nil || c.SentryEnv != "production" {
		t.Fatalf("production default environment %q (%v)", c.SentryEnv, err)
	}
	c, err = loadConfig(env("SENTRY_DSN", "http://k@127.0.0.1:1/1", "SENTRY_ENVIRONMENT", "staging", "SENTRY_RELEASE", "r42",
		"SENTRY_SAMPLE_RATE", "0.25", "SENTRY_TRACES_SAMPLE_RATE", "0"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SentryEnv != "staging" || c.SentryRelease != "r42" || c.SentrySample != 0.25 || c.SentryTraces != 0 {
		t.Fatalf("values: env %q release %q sample %v traces %v", c.SentryEnv, c.SentryRelease, c.SentrySample, c.SentryTraces)
	}
	for _, bad := range []struct{ name, value string }{
		{"SENTRY_SAMPLE_RATE", "1.5"}, {"SENTRY_SAMPLE_RATE", "-0.1"}, {"SENTRY_SAMPLE_RATE", "half"},
		{"SENTRY_SAMPLE_RATE", "NaN"}, {"SENTRY_TRACES_SAMPLE_RATE", "2"},
	} {
		_, err := loadConfig(env(bad.name, bad.value))
		var ce *configError
		if !errors.As(err, &ce) || ce.name != bad.name || !strings.Contains(err.Error(), bad.name) {
			t.Errorf("%s=%q: err %v, want a configError naming it", bad.name, bad.value, err)
		}
	}
}

func TestBuildRelease(t *testing.T) {
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"revision", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}}}, "spinmatch@abc123"},
		{"dirty", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}, "spinmatch@abc123-dirty"},
		{"module version", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "spinmatch@v1.2.3"},
		{"neither", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, ""},
		{"no build info", nil, ""},
	}
	for _, c := range cases {
		if got := buildRelease(c.bi, c.bi != nil); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
