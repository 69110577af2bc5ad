package pgtest

import "testing"

func TestWithDatabase(t *testing.T) {
	cases := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"replaces the path", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/spin_x?sslmode=disable", false},
		{"adds a path", "postgresql://u:pw@h:1", "postgresql://u:pw@h:1/spin_x", false},
		{"rejects key=value", "host=127.0.0.1 dbname=test", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withDatabase(tc.in, "spin_x")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("withDatabase = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	cases := []struct {
		name, ci, require string
		want              bool
	}{
		{"developer machine", "", "", false},
		{"CI", "true", "", true},
		{"forced", "", "1", true},
		{"CI false", "false", "0", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("SPIN_REQUIRE_PG", tc.require)
			if got := required(); got != tc.want {
				t.Fatalf("required() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewDatabaseIsFreshAndDropped(t *testing.T) {
	var first string
	t.Run("create", func(t *testing.T) {
		first = NewDatabase(t)
		if second := NewDatabase(t); second == first {
			t.Fatalf("two databases share the URL %s", first)
		}
		if err := adminExec(first, "create table t (x int)"); err != nil {
			t.Fatalf("use the new database: %v", err)
		}
	})
	if first == "" {
		t.Skip("no database was created")
	}
	if err := adminExec(first, "select 1"); err == nil {
		t.Fatalf("database %s still exists after its test ended", redact(first))
	}
}
