// Package load drives a running Spinmatch server or cluster the way users
// do, over real WebSockets: connect to /ws, spin, get queued and
// match_found, vote, get match_result, spin again, at a paced rate. It is
// the engine of cmd/spinload.
//
// A run has one coordinator (Run) and one or more worker processes
// (RunWorker), the same executable started again, so the connections are
// spread past one process's open-file limit. The coordinator sends each
// worker its spec and "start" on its standard input; a worker answers with
// one JSON Report a line on its standard output (interval deltas of its
// counts and latency histograms), which the coordinator adds up for the
// progress line and the summary.
//
// Concurrency: in a worker, the users' plain (ws://) sockets are read by
// one poller goroutine (rawws_linux.go): a level-triggered epoll over all
// of them, one read(2) per ready socket, frames split and JSON scanned
// (frame.go) without encoding/json or a copy; the same goroutine sends the
// paced spins. That is what keeps the tool's CPU per spin small beside the
// server's on the same machine. wss:// sockets, and any socket off Linux
// or with SPINLOAD_RAW=0, have a gorilla reader goroutine each (wsSock).
// Either way a user's messages are handled one at a time, timed when the
// read that brought them returned; writes from the pacer, the reader and
// the timeout sweep are serialized by the socket's write lock. The
// worker's Stats is guarded by its own lock. The coordinator's state is
// owned by Run's goroutine.
package load
