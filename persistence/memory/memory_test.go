package memory_test

import (
	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

var _ actors.Store = (*memory.Store)(nil)
