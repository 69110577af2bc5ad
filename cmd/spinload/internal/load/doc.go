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
// Concurrency: in a worker, each user has one reader goroutine that owns
// the socket's reads and the user's cycle; writes from the pacer, the
// reader and the timeout sweep are serialized by the user's write lock.
// The worker's Stats is guarded by its own lock. The coordinator's state
// is owned by Run's goroutine.
package load
