package actors

// testHooks lets this package's tests watch grains and fault them from
// inside the test process (never through a route). Deps.hooks is nil
// outside tests; every method is safe on a nil receiver.
type testHooks struct {
	// message, when set, is called first in a grain's Receive with the
	// grain's kind and identity ("" before Started); it may panic to make
	// the supervisor restart the grain. It runs on the grain's goroutine.
	message func(kind, id string, m any)
}

func (h *testHooks) receive(kind, id string, m any) {
	if h != nil && h.message != nil {
		h.message(kind, id, m)
	}
}
