-- Spinmatch schema, version 5: CreateMatch's common case in one statement,
-- so that it can share a group-committed batch with other writes.
--
-- spin_create_match inserts the match, checks (locking the rows) that both
-- partners still hold the queue places the pairing was made from (a null
-- place is not checked), claims both partners in user id order (byte
-- order) and deletes their queue places. It returns
--   'created'          the match is recorded;
--   'exists'           a match with this id was recorded before: nothing done;
--   'conflict:<why>'   a place is gone, or a partner is in a match without a
--                      result whose vote deadline is after p_created: the
--                      rows it wrote are deleted again, nothing is recorded;
--   'slow'             a partner's claim is held by a match past its vote
--                      deadline (or was let go meanwhile): nothing is
--                      recorded, and the caller runs the full transaction
--                      that settles the stale match (persistence/pg/claim.go).
-- It never raises for these outcomes, so a batch that holds it is never
-- aborted by a refused pairing.
create function spin_create_match(
	p_id text, p_pool text,
	p_a text, p_a_name text, p_a_gender text,
	p_b text, p_b_name text, p_b_gender text,
	p_created timestamptz, p_ends timestamptz, p_deadline timestamptz,
	p_wait_a bigint, p_wait_b bigint,
	p_place_a timestamptz, p_place_b timestamptz) returns text
language plpgsql as $$
declare
	v_user   text;
	v_place  timestamptz;
	v_at     timestamptz;
	v_holder text;
	v_until  timestamptz;
begin
	insert into matches (id, pool,
	  a_user_id, a_display_name, a_gender, b_user_id, b_display_name, b_gender,
	  created_at, date_ends_at, vote_deadline, wait_a_us, wait_b_us)
	values (p_id, p_pool, p_a, p_a_name, p_a_gender, p_b, p_b_name, p_b_gender,
	  p_created, p_ends, p_deadline, p_wait_a, p_wait_b)
	on conflict (id) do nothing;
	if not found then
		return 'exists';
	end if;
	for i in 1..2 loop
		v_user := case i when 1 then p_a else p_b end;
		v_place := case i when 1 then p_place_a else p_place_b end;
		continue when v_place is null;
		-- Places are compared to the millisecond (callers rebuild them from
		-- Unix milliseconds; the column keeps microseconds).
		select enqueued_at into v_at from queue_entries where user_id = v_user for update;
		if not found or v_at < v_place or v_at >= v_place + interval '1 millisecond' then
			delete from matches where id = p_id;
			return 'conflict:place of ' || quote_literal(v_user) || ' is gone';
		end if;
	end loop;
	for v_user in select u from unnest(array[p_a, p_b]) u group by u order by u collate "C" loop
		insert into match_members (user_id, match_id) values (v_user, p_id)
		on conflict (user_id) do nothing;
		continue when found;
		select mm.match_id, m.vote_deadline into v_holder, v_until
		  from match_members mm join matches m on m.id = mm.match_id
		 where mm.user_id = v_user;
		-- Deleting the match drops this match's claims with it (cascade).
		delete from matches where id = p_id;
		if v_holder is not null and v_until > p_created then
			return 'conflict:claim ' || quote_literal(v_user) || ': in match ' || quote_literal(v_holder)
			    || ' until ' || v_until::text;
		end if;
		return 'slow';
	end loop;
	delete from queue_entries where user_id in (p_a, p_b);
	return 'created';
end
$$;
