// Package pg owns the PostgreSQL store: the schema (SQL migrations embedded
// in the binary and applied by Open), the pgx/v5 connection pool, and the
// queries behind actors.Store.
//
// Every write is idempotent: a match is inserted with ON CONFLICT DO
// NOTHING, and a vote or a result is inserted the same way and then read
// back, so the first one wins and a retried or duplicated call returns what
// is stored. A user is in at most one match without a result: CreateMatch
// claims both partners in the match_members table (its primary key is the
// arbiter between racing creations) and recording the result releases
// them; queue places live in queue_entries. Transactions that hit a
// serialization failure or a deadlock are retried with jittered exponential
// backoff; an error that means the database could not be reached wraps
// persistence.ErrUnavailable.
//
// Writes are group-committed (commit.go): concurrent calls' statements go
// to PostgreSQL in one batch, one round trip and one commit, and each call
// returns only after the commit that holds its write; a write whose
// statement fails fails alone. Within a batch the writes of one kind share
// a statement, their columns passed as arrays (kind.go, matchbatch.go);
// writes that touch the same rows keep their order (plan.go).
//
// Concurrency: a Store is safe for concurrent use; the pool hands each read
// its own connection, and a fixed number of flusher goroutines own the
// batches. Several processes may Open the same database at once:
// migrations run under a PostgreSQL advisory lock.
package pg
