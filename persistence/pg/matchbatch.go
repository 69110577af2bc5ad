package pg

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/spinmatch/spinmatch/persistence"
)

// The match writes' kinds (kind.go): a batch's pairings, votes and results
// each go in one set-based statement (or two, three) however many there
// are. The read backs are separate statements, after the writes: read
// committed gives each statement a fresh snapshot, so a read back sees a
// row a concurrent transaction committed while the insert waited on it,
// as the statements of one write alone did.

// createRow is one CreateMatch: the match, and the outcome
// spin_create_matches gave it.
type createRow struct {
	m       persistence.Match
	outcome string
}

// createKeys: a pairing writes its match and both partners' claims and
// queue places.
func createKeys(m persistence.Match) keys {
	return keys{writes: []string{key("m", m.ID),
		key("c", m.A.UserID), key("c", m.B.UserID), key("q", m.A.UserID), key("q", m.B.UserID)}}
}

// createMatchKind records pairings with spin_create_matches.
var createMatchKind = kind{
	name: "create_match",
	rank: rankCreateMatch,
	queue: func(b *pgx.Batch, ws []*write) {
		slices.SortFunc(ws, func(x, y *write) int {
			return strings.Compare(x.row.(*createRow).m.ID, y.row.(*createRow).m.ID)
		})
		n := len(ws)
		ids, pools := make([]string, n), make([]string, n)
		aID, aName, aGender := make([]string, n), make([]string, n), make([]string, n)
		bID, bName, bGender := make([]string, n), make([]string, n), make([]string, n)
		created, ends, deadline := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		waitA, waitB := make([]int64, n), make([]int64, n)
		placeA, placeB := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		for i, w := range ws {
			m := w.row.(*createRow).m
			ids[i], pools[i] = m.ID, m.Pool
			aID[i], aName[i], aGender[i] = m.A.UserID, m.A.DisplayName, m.A.Gender
			bID[i], bName[i], bGender[i] = m.B.UserID, m.B.DisplayName, m.B.Gender
			created[i], ends[i], deadline[i] = m.CreatedAt, m.DateEndsAt, m.VoteDeadline
			waitA[i], waitB[i] = m.WaitA.Microseconds(), m.WaitB.Microseconds()
			placeA[i], placeB[i] = placeArg(m.PlaceA), placeArg(m.PlaceB)
		}
		b.Queue(`select n, outcome from spin_create_matches($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			ids, pools, aID, aName, aGender, bID, bName, bGender, created, ends, deadline, waitA, waitB, placeA, placeB)
	},
	read: func(br pgx.BatchResults, ws []*write) error {
		for _, w := range ws {
			w.row.(*createRow).outcome = ""
		}
		return readByPosition(br, ws, func(w *write, outcome *string) {
			w.row.(*createRow).outcome = *outcome
		})
	},
}

// placeArg is a place time for spin_create_matches: null when not
// checked, else truncated to the millisecond.
func placeArg(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: time.UnixMilli(t.UnixMilli()), Valid: true}
}

// readByPosition reads rows of (n, value), n the 1-based position of a
// write in ws, calling set for each value that is not null; a write
// without a row, or with a null value, is left as it is.
func readByPosition(br pgx.BatchResults, ws []*write, set func(w *write, v *string)) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var n int64
	var v *string
	_, err = pgx.ForEachRow(rows, []any{&n, &v}, func() error {
		if n < 1 || n > int64(len(ws)) {
			return fmt.Errorf("row for position %d of %d", n, len(ws))
		}
		if v != nil {
			set(ws[n-1], v)
		}
		return nil
	})
	return err
}

// voteRow is one RecordVote: its arguments, and the choice stored (found
// false: no such match, or not its partner).
type voteRow struct {
	matchID, voter, choice string
	stored                 string
	found                  bool
}

// voteKind records votes: one insert for the batch's votes, then one read
// back of the stored choices.
var voteKind = kind{
	name: "record_vote",
	rank: rankVote,
	queue: func(b *pgx.Batch, ws []*write) {
		slices.SortFunc(ws, func(x, y *write) int {
			vx, vy := x.row.(*voteRow), y.row.(*voteRow)
			return cmp.Or(strings.Compare(vx.matchID, vy.matchID), strings.Compare(vx.voter, vy.voter))
		})
		n := len(ws)
		ids, voters, choices := make([]string, n), make([]string, n), make([]string, n)
		for i, w := range ws {
			v := w.row.(*voteRow)
			ids[i], voters[i], choices[i] = v.matchID, v.voter, v.choice
		}
		b.Queue(`insert into votes (match_id, voter, choice)
			select m.id, v.voter, v.choice
			  from unnest($1::text[], $2::text[], $3::text[]) as v(match_id, voter, choice)
			  join matches m on m.id = v.match_id and v.voter in (m.a_user_id, m.b_user_id)
			 on conflict (match_id, voter) do nothing`, ids, voters, choices)
		b.Queue(`select v.n, vo.choice
			  from unnest($1::text[], $2::text[]) with ordinality as v(match_id, voter, n)
			  join votes vo on vo.match_id = v.match_id and vo.voter = v.voter`, ids, voters)
	},
	read: func(br pgx.BatchResults, ws []*write) error {
		if err := execAll(br, 1); err != nil {
			return err
		}
		for _, w := range ws {
			v := w.row.(*voteRow)
			v.stored, v.found = "", false
		}
		return readByPosition(br, ws, func(w *write, choice *string) {
			v := w.row.(*voteRow)
			v.stored, v.found = *choice, true
		})
	},
}

// resultRow is one RecordResult: its arguments, and the result stored
// (found false: no such match).
type resultRow struct {
	matchID, result string
	stored          string
	found           bool
}

// resultKind records results and releases the partners' claims: one
// insert, one delete and one read back for the batch's results.
var resultKind = kind{
	name: "record_result",
	rank: rankResult,
	queue: func(b *pgx.Batch, ws []*write) {
		slices.SortFunc(ws, func(x, y *write) int {
			return strings.Compare(x.row.(*resultRow).matchID, y.row.(*resultRow).matchID)
		})
		ids, results := make([]string, len(ws)), make([]string, len(ws))
		for i, w := range ws {
			r := w.row.(*resultRow)
			ids[i], results[i] = r.matchID, r.result
		}
		b.Queue(`insert into match_results (match_id, result)
			select m.id, r.result
			  from unnest($1::text[], $2::text[]) as r(match_id, result)
			  join matches m on m.id = r.match_id
			 on conflict (match_id) do nothing`, ids, results)
		b.Queue(`delete from match_members where match_id = any($1::text[])`, ids)
		b.Queue(`select r.n, mr.result
			  from unnest($1::text[]) with ordinality as r(match_id, n)
			  join match_results mr on mr.match_id = r.match_id`, ids)
	},
	read: func(br pgx.BatchResults, ws []*write) error {
		if err := execAll(br, 2); err != nil {
			return err
		}
		for _, w := range ws {
			r := w.row.(*resultRow)
			r.stored, r.found = "", false
		}
		return readByPosition(br, ws, func(w *write, result *string) {
			r := w.row.(*resultRow)
			r.stored, r.found = *result, true
		})
	},
}
