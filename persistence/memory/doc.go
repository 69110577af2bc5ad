// Package memory owns the embedded, non-durable store: every record lives in
// process memory and is lost when the process exits. It is what `make run`
// uses when DATABASE_URL is unset, and the reference the conformance suite
// (persistence/storetest) is checked against.
//
// Concurrency: a Store is safe for concurrent use; one mutex guards all of
// its maps. Records are copied in and out, so callers never share memory
// with the store. Every write is idempotent exactly as actors.Store requires,
// and CreateMatch checks and takes both partners' claims (one match without
// a result per user) under the same lock, so racing creations cannot both
// take one user.
package memory
