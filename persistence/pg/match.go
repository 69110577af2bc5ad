package pg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// CreateMatch records a new match; creating an existing id again is a no-op
// and keeps the first record.
func (s *Store) CreateMatch(ctx context.Context, m persistence.Match) error {
	if m.ID == "" {
		return fmt.Errorf("pg: create match: empty match id")
	}
	return s.retry(ctx, "pg: create match", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx,
			`insert into matches (id, pool,
			   a_user_id, a_display_name, a_gender, b_user_id, b_display_name, b_gender,
			   created_at, date_ends_at, vote_deadline, wait_a_us, wait_b_us)
			 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			 on conflict (id) do nothing`,
			m.ID, m.Pool, m.A.UserID, m.A.DisplayName, m.A.Gender, m.B.UserID, m.B.DisplayName, m.B.Gender,
			m.CreatedAt, m.DateEndsAt, m.VoteDeadline, m.WaitA.Microseconds(), m.WaitB.Microseconds())
		return err
	})
}

// RecordVote records voter's choice once and returns the stored choice, in
// one transaction: the insert does nothing when a vote exists, then the
// stored choice is read back. It returns persistence.ErrNotFound for an
// unknown match or a voter who is not one of its partners.
func (s *Store) RecordVote(ctx context.Context, matchID, voter, choice string) (string, error) {
	if choice != persistence.ChoiceYes && choice != persistence.ChoiceNo {
		return "", fmt.Errorf("pg: record vote: invalid choice %q", choice)
	}
	var stored string
	err := s.inTx(ctx, "pg: record vote", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`insert into votes (match_id, voter, choice)
			 select id, $2, $3 from matches where id = $1 and $2 in (a_user_id, b_user_id)
			 on conflict (match_id, voter) do nothing`,
			matchID, voter, choice); err != nil {
			return err
		}
		// Read committed: this statement sees a vote a concurrent
		// transaction committed while the insert above waited on it.
		return tx.QueryRow(ctx,
			`select choice from votes where match_id = $1 and voter = $2`,
			matchID, voter).Scan(&stored)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("pg: record vote: match %q voter %q: %w", matchID, voter, persistence.ErrNotFound)
	}
	return stored, err
}

// Votes returns the recorded votes of a match by voter, or
// persistence.ErrNotFound for an unknown match.
func (s *Store) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	var votes map[string]string
	err := s.retry(ctx, "pg: votes", func(ctx context.Context) error {
		votes = make(map[string]string, 2)
		rows, err := s.pool.Query(ctx,
			`select v.voter, v.choice
			   from matches m left join votes v on v.match_id = m.id
			  where m.id = $1`, matchID)
		if err != nil {
			return err
		}
		found := false
		var voter, choice *string
		_, err = pgx.ForEachRow(rows, []any{&voter, &choice}, func() error {
			found = true
			if voter != nil {
				votes[*voter] = *choice
			}
			return nil
		})
		if err == nil && !found {
			err = pgx.ErrNoRows
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pg: votes: match %q: %w", matchID, persistence.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return votes, nil
}

// RecordResult records a match's result once and returns the stored
// result, in one transaction like RecordVote. It returns
// persistence.ErrNotFound for an unknown match.
func (s *Store) RecordResult(ctx context.Context, matchID, result string) (string, error) {
	if result != persistence.ResultMutual && result != persistence.ResultNoMatch {
		return "", fmt.Errorf("pg: record result: invalid result %q", result)
	}
	var stored string
	err := s.inTx(ctx, "pg: record result", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`insert into match_results (match_id, result)
			 select id, $2 from matches where id = $1
			 on conflict (match_id) do nothing`,
			matchID, result); err != nil {
			return err
		}
		return tx.QueryRow(ctx,
			`select result from match_results where match_id = $1`, matchID).Scan(&stored)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("pg: record result: match %q: %w", matchID, persistence.ErrNotFound)
	}
	return stored, err
}
