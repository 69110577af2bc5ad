package main

import (
	"errors"
	"testing"
)

func TestLoadStatus(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    statusConfig
		badName string // the variable the error names; "" = no error
	}{
		{"defaults", nil, statusConfig{}, ""},
		{"set", map[string]string{"SPIN_STATUS_WATCHERS": "50", "SPIN_STATUS_WATCHERS_ADDRESS": " 3 "}, statusConfig{Watchers: 50, WatchersPerAddress: 3}, ""},
		{"zero", map[string]string{"SPIN_STATUS_WATCHERS": "0"}, statusConfig{}, "SPIN_STATUS_WATCHERS"},
		{"not a number", map[string]string{"SPIN_STATUS_WATCHERS_ADDRESS": "many"}, statusConfig{}, "SPIN_STATUS_WATCHERS_ADDRESS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := loadStatus(func(k string) string { return tc.env[k] }, &c)
			var ce *configError
			switch {
			case tc.badName == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.badName != "" && (!errors.As(err, &ce) || ce.name != tc.badName):
				t.Fatalf("error %v, want one naming %s", err, tc.badName)
			case tc.badName == "" && c.Status != tc.want:
				t.Fatalf("got %+v, want %+v", c.Status, tc.want)
			}
		})
	}
}
