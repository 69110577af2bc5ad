package memory

import (
	"slices"
	"testing"
)

func TestAppendBounded(t *testing.T) {
	cases := []struct {
		name  string
		start []int
		limit int
		want  []int
	}{
		{"below limit", []int{1, 2}, 4, []int{1, 2, 9}},
		{"at limit drops oldest quarter", []int{1, 2, 3, 4}, 4, []int{2, 3, 4, 9}},
		{"big limit drops a quarter", []int{1, 2, 3, 4, 5, 6, 7, 8}, 8, []int{3, 4, 5, 6, 7, 8, 9}},
		{"no limit", []int{1, 2, 3}, 0, []int{1, 2, 3, 9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := appendBounded(slices.Clone(tc.start), 9, tc.limit)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("appendBounded = %v, want %v", got, tc.want)
			}
		})
	}
}
