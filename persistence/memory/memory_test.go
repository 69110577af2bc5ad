package memory_test

import (
	"testing"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence/memory"
	"github.com/spinmatch/spinmatch/persistence/storetest"
)

var _ actors.Store = (*memory.Store)(nil)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) actors.Store { return memory.New() })
}

func TestConformanceShared(t *testing.T) {
	s := memory.New()
	storetest.Run(t, func(t *testing.T) actors.Store { return s })
}
