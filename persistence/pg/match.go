package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/spinmatch/spinmatch/persistence"
)

// CreateMatch records a new match: it inserts the match (an existing id
// makes the whole call a no-op that keeps the first record), claims both
// partners for it (see claim), and deletes both partners' queue entries,
// all or nothing. created reports whether this call inserted the match. It
// returns an error wrapping persistence.ErrConflict, and records nothing,
// when a partner is in another match without a result whose vote deadline
// is after m.CreatedAt.
//
// The common case is one row of spin_create_matches (migration 006), one
// statement for all of a group-committed batch's pairings (matchbatch.go);
// a partner still claimed by a match past its vote deadline takes the full
// transaction (createMatchTx), which settles that match first.
func (s *Store) CreateMatch(ctx context.Context, m persistence.Match) (created bool, err error) {
	if m.ID == "" {
		return false, fmt.Errorf("pg: create match: empty match id")
	}
	row := &createRow{m: m}
	if err := s.commit.do(ctx, &write{op: "pg: create match", kind: &createMatchKind, row: row, keys: createKeys(m)}); err != nil {
		return false, err
	}
	switch why, conflict := strings.CutPrefix(row.outcome, "conflict:"); {
	case row.outcome == "created":
		return true, nil
	case row.outcome == "exists":
		return false, nil
	case conflict:
		return false, fmt.Errorf("pg: create match: %s: %w", why, persistence.ErrConflict)
	}
	return s.createMatchTx(ctx, m)
}

// createMatchTx is CreateMatch as one interactive transaction: the path
// that settles a stale match holding a partner (see claim).
func (s *Store) createMatchTx(ctx context.Context, m persistence.Match) (created bool, err error) {
	users := partners(m)
	err = s.inTx(ctx, "pg: create match", func(ctx context.Context, tx pgx.Tx) error {
		created = false
		tag, err := tx.Exec(ctx,
			`insert into matches (id, pool,
			   a_user_id, a_display_name, a_gender, b_user_id, b_display_name, b_gender,
			   created_at, date_ends_at, vote_deadline, wait_a_us, wait_b_us)
			 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			 on conflict (id) do nothing`,
			m.ID, m.Pool, m.A.UserID, m.A.DisplayName, m.A.Gender, m.B.UserID, m.B.DisplayName, m.B.Gender,
			m.CreatedAt, m.DateEndsAt, m.VoteDeadline, m.WaitA.Microseconds(), m.WaitB.Microseconds())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // created before: a no-op, whoever its partners are with now
		}
		created = true
		if err := holdPlaces(ctx, tx, m); err != nil {
			return err
		}
		// One user at a time in user id order, so two transactions that
		// want the same users wait for each other in the same order.
		for _, u := range users {
			if err := claim(ctx, tx, u, m); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `delete from queue_entries where user_id = any($1)`, users)
		return err
	})
	return created && err == nil, err
}

// ActiveMatch returns the match userID is claimed by (one without a result)
// if its vote deadline is after since, or persistence.ErrNotFound.
func (s *Store) ActiveMatch(ctx context.Context, userID string, since time.Time) (persistence.Match, error) {
	var m persistence.Match
	err := s.retry(ctx, "pg: active match", func(ctx context.Context) error {
		var waitA, waitB int64
		err := s.pool.QueryRow(ctx,
			`select m.id, m.pool, m.a_user_id, m.a_display_name, m.a_gender,
			        m.b_user_id, m.b_display_name, m.b_gender,
			        m.created_at, m.date_ends_at, m.vote_deadline, m.wait_a_us, m.wait_b_us
			   from match_members mm join matches m on m.id = mm.match_id
			  where mm.user_id = $1 and m.vote_deadline > $2`, userID, since,
		).Scan(&m.ID, &m.Pool, &m.A.UserID, &m.A.DisplayName, &m.A.Gender,
			&m.B.UserID, &m.B.DisplayName, &m.B.Gender,
			&m.CreatedAt, &m.DateEndsAt, &m.VoteDeadline, &waitA, &waitB)
		m.WaitA, m.WaitB = time.Duration(waitA)*time.Microsecond, time.Duration(waitB)*time.Microsecond
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return persistence.Match{}, fmt.Errorf("pg: active match of %q: %w", userID, persistence.ErrNotFound)
	}
	if err != nil {
		return persistence.Match{}, err
	}
	return m, nil
}

// RecordVote records voter's choice once and returns the stored choice, in
// one group-committed write (commit.go; a batch's votes share their two
// statements, matchbatch.go): the insert does nothing when a vote exists,
// then the stored choice is read back; the call returns after the commit. It returns persistence.ErrNotFound for an
// unknown match or a voter who is not one of its partners.
func (s *Store) RecordVote(ctx context.Context, matchID, voter, choice string) (string, error) {
	if choice != persistence.ChoiceYes && choice != persistence.ChoiceNo {
		return "", fmt.Errorf("pg: record vote: invalid choice %q", choice)
	}
	row := &voteRow{matchID: matchID, voter: voter, choice: choice}
	err := s.commit.do(ctx, &write{op: "pg: record vote", kind: &voteKind, row: row,
		keys: keys{reads: []string{key("m", matchID)}, writes: []string{key("v", matchID, voter)}}})
	if err != nil {
		return "", err
	}
	if !row.found {
		return "", fmt.Errorf("pg: record vote: match %q voter %q: %w", matchID, voter, persistence.ErrNotFound)
	}
	return row.stored, nil
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
// result, in one group-committed write like RecordVote that also releases both
// partners' claims on the match. It returns persistence.ErrNotFound for an
// unknown match.
func (s *Store) RecordResult(ctx context.Context, matchID, result string) (string, error) {
	if result != persistence.ResultMutual && result != persistence.ResultNoMatch {
		return "", fmt.Errorf("pg: record result: invalid result %q", result)
	}
	row := &resultRow{matchID: matchID, result: result}
	err := s.commit.do(ctx, &write{op: "pg: record result", kind: &resultKind, row: row,
		keys: keys{reads: []string{key("m", matchID)}, writes: []string{key("r", matchID)}}})
	if err != nil {
		return "", err
	}
	if !row.found {
		return "", fmt.Errorf("pg: record result: match %q: %w", matchID, persistence.ErrNotFound)
	}
	return row.stored, nil
}

// holdPlaces checks, locking the rows, that both partners still hold the
// queue places the pairing was made from (a partner without a place time
// is not checked). A place that is gone is a conflict: a pool paired a
// user who had left the queue, or who is in another match already.
func holdPlaces(ctx context.Context, tx pgx.Tx, m persistence.Match) error {
	for _, p := range []struct {
		user  string
		place time.Time
	}{{m.A.UserID, m.PlaceA}, {m.B.UserID, m.PlaceB}} {
		if p.place.IsZero() {
			continue
		}
		var at time.Time
		err := tx.QueryRow(ctx, `select enqueued_at from queue_entries where user_id = $1 for update`, p.user).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && at.UnixMilli() != p.place.UnixMilli()) {
			return fmt.Errorf("place of %q is gone: %w", p.user, persistence.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("place of %q: %w", p.user, err)
		}
	}
	return nil
}
