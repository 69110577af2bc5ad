package pg

import (
	"github.com/jackc/pgx/v5"
)

// kind is a family of writes that go to PostgreSQL together: queue adds
// the statements that carry ws (one write or many, the columns passed as
// arrays) to a batch, and read reads their results in the same order,
// leaving each write's answer in its row. read returns only what the
// database answered with an error; a write's own verdict (no such match)
// is kept in its row. Both may reorder ws among themselves (to take row
// locks in key order), as long as read sees the order queue left.
type kind struct {
	name  string
	rank  int // the kind's place among a phase's statements (plan.go)
	queue func(b *pgx.Batch, ws []*write)
	read  func(br pgx.BatchResults, ws []*write) error
}

// The kinds' ranks: a phase's statements go in this order. A write that
// creates a row goes before the writes that need it when both are in one
// phase, though plan.go already puts a conflicting later write in a later
// slot whatever the ranks.
const (
	rankProfile = iota
	rankQueuePut
	rankQueueDelete
	rankResult
	rankCreateMatch
	rankVote
	rankWaitSample
	rankAudit
	numKinds
)

// allKinds lists the kinds, by rank.
var allKinds = [numKinds]*kind{&profilePutKind, &queuePutKind, &queueDeleteKind, &resultKind,
	&createMatchKind, &voteKind, &waitSampleKind, &auditKind}

// execAll reads n results of statements that return no rows.
func execAll(br pgx.BatchResults, n int) error {
	for range n {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}
