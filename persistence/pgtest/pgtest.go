// Package pgtest owns the PostgreSQL test helpers: finding the test server
// (TEST_DATABASE_URL), creating a fresh database per test and dropping it
// afterwards, and a TCP proxy that can cut the database away from a running
// client without touching the shared server.
//
// Policy: when the server cannot be reached, tests are skipped on a
// developer machine but fail under CI=true or SPIN_REQUIRE_PG=1, so a CI run
// can never pass by skipping them.
//
// Concurrency: every helper may be called from parallel tests; each call
// owns what it creates (a database, a proxy) and releases it in t.Cleanup.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the admin URL used when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// reachTimeout bounds the check that the server answers.
const reachTimeout = 5 * time.Second

// URL returns the admin URL of the test server, from TEST_DATABASE_URL or
// DefaultURL. It skips the test under -short (`make test-unit`). When the
// server does not answer it fails the test under CI=true or
// SPIN_REQUIRE_PG=1, and skips it otherwise.
func URL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("pgtest: -short: skipping a test that needs PostgreSQL")
	}
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		u = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		msg := fmt.Sprintf("pgtest: PostgreSQL at %s is unreachable (%v); set TEST_DATABASE_URL or start it with `make deps-pg`", redact(u), err)
		if required() {
			t.Fatal(msg + " [required: CI=true or SPIN_REQUIRE_PG=1]")
		}
		t.Skip(msg)
	}
	return u
}

// required reports whether a missing server must fail the test.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("SPIN_REQUIRE_PG") == "1"
}

// NewDatabase creates a fresh, uniquely named database (spin_test_<random>)
// on the test server and returns its URL. The database is dropped, with
// any remaining connections forced off, when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := URL(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random name: %v", err)
	}
	name := "spin_test_" + hex.EncodeToString(b[:])
	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := adminExec(admin, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := adminExec(admin, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dbURL
}

// adminExec runs one statement on the admin database.
func adminExec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns the URL u with its database set to name.
func withDatabase(u, name string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		return "", fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL, got %q", redact(u))
	}
	parsed.Path = "/" + name
	parsed.RawPath = ""
	return parsed.String(), nil
}

// redact hides the password of a URL for messages.
func redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparsable url)"
	}
	return parsed.Redacted()
}
