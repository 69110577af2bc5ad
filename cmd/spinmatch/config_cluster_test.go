package main

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// devClusterKey is the Makefile's development cluster key (32 bytes).
const devClusterKey = "c3Bpbm1hdGNoLWRldi1jbHVzdGVyLWtleS0wMDAwMDE="

func TestLoadClusterKey(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	k16 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16))
	k24 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 24))
	short := base64.StdEncoding.EncodeToString([]byte("only-ten-b"))
	prod := []string{"SPIN_ENV", "production", "JWT_SECRET", "x"}

	for _, tc := range []struct {
		name string
		env  []string
		want [][]byte // nil: no encryption
	}{
		{"development without a key is plaintext", []string{"SPIN_ENV", "development"}, nil},
		{"one key", append(prod, "SPIN_CLUSTER_KEY", devClusterKey), [][]byte{[]byte("spinmatch-dev-cluster-key-000001")}},
		{"rotation list, primary first, spaces ignored", append(prod, "SPIN_CLUSTER_KEY", k16+" , "+k24),
			[][]byte{bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 24)}},
		{"development with a key encrypts", []string{"SPIN_ENV", "development", "SPIN_CLUSTER_KEY", k16}, [][]byte{bytes.Repeat([]byte{1}, 16)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(env(tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Cluster.Keys) != len(tc.want) {
				t.Fatalf("keys %d, want %d", len(c.Cluster.Keys), len(tc.want))
			}
			for i := range tc.want {
				if !bytes.Equal(c.Cluster.Keys[i], tc.want[i]) {
					t.Fatalf("key %d differs", i+1)
				}
			}
		})
	}

	for _, tc := range []struct {
		name, value, want string
	}{
		{"production requires a key", "", "is required in production"},
		{"not base64", "not*base64", "key 1 of 1 is not base64"},
		{"wrong length", short, "key 1 of 1 decodes to 10 bytes"},
		{"bad secondary", devClusterKey + "," + short, "key 2 of 2 decodes to 10 bytes"},
		{"empty entry", devClusterKey + ",", "key 2 of 2 decodes to 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := prod
			if tc.value != "" {
				e = append(append([]string{}, prod...), "SPIN_CLUSTER_KEY", tc.value)
			}
			_, err := loadConfig(env(e...))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "SPIN_CLUSTER_KEY") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("err %q, want one line naming SPIN_CLUSTER_KEY with %q", msg, tc.want)
			}
			if strings.Contains(msg, devClusterKey) || strings.Contains(msg, short) {
				t.Fatalf("err %q shows key material", msg)
			}
		})
	}
}
