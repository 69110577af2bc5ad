package cluster

import (
	"slices"
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	want := nodeMeta{ID: "Abc123", Host: "127.0.0.2", Port: 40123, Kinds: []string{"Match", "MatchPool", "UserSession", "prototopic"}}
	b, err := encodeMeta(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Host != want.Host || got.Port != want.Port || !slices.Equal(got.Kinds, want.Kinds) {
		t.Fatalf("round trip = %+v, want %+v", got, want)
	}
	t.Logf("metadata is %d bytes: %s", len(b), b)
}

func TestMetaTooLarge(t *testing.T) {
	kinds := make([]string, 100)
	for i := range kinds {
		kinds[i] = strings.Repeat("k", 10)
	}
	if _, err := encodeMeta(nodeMeta{ID: "a", Host: "h", Port: 1, Kinds: kinds}); err == nil {
		t.Fatal("oversized metadata accepted")
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ``},
		{"not json", `{`},
		{"no id", `{"h":"127.0.0.1","p":1}`},
		{"no host", `{"id":"a","p":1}`},
		{"zero port", `{"id":"a","h":"127.0.0.1","p":0}`},
		{"port too big", `{"id":"a","h":"127.0.0.1","p":65536}`},
		{"wrong type", `{"id":1,"h":"127.0.0.1","p":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := decodeMeta([]byte(tt.in)); err == nil {
				t.Fatalf("decoded %+v", m)
			}
		})
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"id":"a","h":"127.0.0.1","p":8090,"k":["echo"]}`))
	f.Add([]byte(`{"id":"","h":"","p":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if m.ID == "" || m.Host == "" || m.Port <= 0 || m.Port > 65535 {
			t.Fatalf("accepted invalid %+v", m)
		}
		if _, err := encodeMeta(m); err != nil && len(b) <= 512 {
			t.Fatalf("re-encode of accepted %q: %v", b, err)
		}
	})
}
