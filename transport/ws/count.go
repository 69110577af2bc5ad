package ws

// Count returns how many user sockets are open on this node (the admin
// snapshot's connections).
func (h *Handler) Count() int { return h.open.len() }
