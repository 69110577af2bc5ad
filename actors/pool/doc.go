// Package pool is the pure domain logic of one matching pool: the pairing
// queue (Queue), the wait-time model (Estimator) and the pool statistics
// built on it (Stats).
//
// It owns no goroutines, does no I/O and knows nothing of actors. Nothing in
// it is safe for concurrent use: a Queue and an Estimator belong to the
// MatchPool grain that created them and are called from its Receive only.
// Time is always passed in by the caller, so tests control the clock.
package pool
