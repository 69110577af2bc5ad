package pg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// claimAttempts bounds how often claim tries to insert one user's claim: a
// try fails when the claim is held, and is repeated after the holder was a
// stale match settled here, or let go between the insert and the look.
const claimAttempts = 3

// partners returns m's distinct partners in user id order: the order in
// which CreateMatch claims them.
func partners(m persistence.Match) []string {
	users := []string{m.A.UserID, m.B.UserID}
	slices.Sort(users)
	return slices.Compact(users)
}

// claim marks userID as in match m (already inserted by tx), in tx.
//
// The match_members primary key is the arbiter: the insert does nothing
// when the user is claimed, and a concurrent transaction's uncommitted
// claim makes it wait until that transaction ends, so of two transactions
// claiming one user exactly one inserts. The loser then reads the holder
// (read committed: the statement sees the winner's commit). A holder whose
// vote deadline is after m.CreatedAt is a conflict; one whose deadline has
// passed is settled as no_match and released, and the insert is tried
// again. When tx rolls back (a conflict on the other partner, say), the
// settlement rolls back with it.
func claim(ctx context.Context, tx pgx.Tx, userID string, m persistence.Match) error {
	for range claimAttempts {
		tag, err := tx.Exec(ctx,
			`insert into match_members (user_id, match_id) values ($1, $2)
			 on conflict (user_id) do nothing`, userID, m.ID)
		if err != nil {
			return fmt.Errorf("claim %q: %w", userID, err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var holder string
		var deadline time.Time
		err = tx.QueryRow(ctx,
			`select mm.match_id, m.vote_deadline
			   from match_members mm join matches m on m.id = mm.match_id
			  where mm.user_id = $1`, userID).Scan(&holder, &deadline)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue // the holder let go since the insert
		case err != nil:
			return fmt.Errorf("claim %q: holder: %w", userID, err)
		case holder == m.ID:
			return nil
		case deadline.After(m.CreatedAt):
			return fmt.Errorf("claim %q: in match %q until %s: %w",
				userID, holder, deadline.UTC().Format(time.RFC3339Nano), persistence.ErrConflict)
		}
		if err := settleStale(ctx, tx, holder); err != nil {
			return fmt.Errorf("claim %q: %w", userID, err)
		}
	}
	return fmt.Errorf("claim %q: still held after %d attempts: %w", userID, claimAttempts, persistence.ErrConflict)
}

// settleStale records the result of a match whose vote deadline has passed
// from its stored votes (mutual when both partners voted yes, a missing
// vote counting as no; unless it has a result already: the first result
// wins) and releases its partners, in tx.
func settleStale(ctx context.Context, tx pgx.Tx, matchID string) error {
	if _, err := tx.Exec(ctx,
		`insert into match_results (match_id, result)
		 select $1, case when (select count(*) from votes where match_id = $1 and choice = 'yes') = 2
		                 then $2 else $3 end
		 on conflict (match_id) do nothing`, matchID, persistence.ResultMutual, persistence.ResultNoMatch); err != nil {
		return fmt.Errorf("settle stale match %q: %w", matchID, err)
	}
	if err := release(ctx, tx, matchID); err != nil {
		return fmt.Errorf("settle stale match %q: %w", matchID, err)
	}
	return nil
}

// release deletes the partners' claims on a match, in tx.
func release(ctx context.Context, tx pgx.Tx, matchID string) error {
	_, err := tx.Exec(ctx, `delete from match_members where match_id = $1`, matchID)
	return err
}
