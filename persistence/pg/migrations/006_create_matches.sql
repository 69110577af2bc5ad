-- Spinmatch schema, version 6: CreateMatch for many matches in one
-- statement, set-based, so a group-committed batch pays a few statements
-- for all its pairings instead of spin_create_match's six for each.
--
-- spin_create_matches takes the matches as parallel arrays (element i of
-- each is match i, as spin_create_match's arguments) and returns one row a
-- match, (n, outcome) with n its 1-based position, the outcome as
-- spin_create_match's:
--   'created', 'exists', 'conflict:<why>' (nothing recorded), 'slow'
--   (nothing recorded; the caller runs the transaction that settles a
--   stale match first, persistence/pg/claim.go).
-- It never raises for these outcomes. No two of the matches may share a
-- partner (the caller puts such matches in separate calls); if two did,
-- one would only be refused, never both recorded: the claims' primary key
-- is still the arbiter.
--
-- Steps, each one statement over every match: insert the matches (those
-- that existed are 'exists' and take no further part); lock the partners'
-- queue places in user order and refuse the matches whose place is gone;
-- claim the partners of the others in user order (insert ... on conflict
-- do nothing: a concurrent claim makes it wait, then skip); look at the
-- holders of the claims not taken; delete the refused matches (their
-- claims go with them, by cascade) and the created ones' queue places.
-- spin_create_match (version 5) stays for nodes of the previous version
-- during a rolling restart.
create function spin_create_matches(
	p_id text[], p_pool text[],
	p_a text[], p_a_name text[], p_a_gender text[],
	p_b text[], p_b_name text[], p_b_gender text[],
	p_created timestamptz[], p_ends timestamptz[], p_deadline timestamptz[],
	p_wait_a bigint[], p_wait_b bigint[],
	p_place_a timestamptz[], p_place_b timestamptz[])
returns table (n bigint, outcome text)
language plpgsql as $$
declare
	v_new     text[];         -- the matches this call inserted
	-- Their partners, one element each (one for a user matched with
	-- themself): match, user, the place to check (null: none), the
	-- match's creation.
	v_pid     text[];
	v_puser   text[];
	v_pplace  timestamptz[];
	v_pat     timestamptz[];
	v_cid     text[];         -- the claims taken (match, user)
	v_cuser   text[];
	v_sid     text[];         -- the claims not taken (match, user, creation)
	v_suser   text[];
	v_sat     timestamptz[];
	v_refused text[];         -- the new matches refused
	v_why     text[];         -- v_refused's outcomes, element by element
begin
	with ins as (
		insert into matches (id, pool,
		  a_user_id, a_display_name, a_gender, b_user_id, b_display_name, b_gender,
		  created_at, date_ends_at, vote_deadline, wait_a_us, wait_b_us)
		select * from unnest(p_id, p_pool, p_a, p_a_name, p_a_gender, p_b, p_b_name, p_b_gender,
		  p_created, p_ends, p_deadline, p_wait_a, p_wait_b)
		on conflict (id) do nothing
		returning id)
	select coalesce(array_agg(id), '{}') into v_new from ins;
	if cardinality(v_new) = 0 then
		return query select t.n, 'exists'::text from unnest(p_id) with ordinality as t(id, n);
		return;
	end if;

	select coalesce(array_agg(x.id order by x.user_id collate "C"), '{}'),
	       coalesce(array_agg(x.user_id order by x.user_id collate "C"), '{}'),
	       coalesce(array_agg(x.place order by x.user_id collate "C"), '{}'),
	       coalesce(array_agg(x.created order by x.user_id collate "C"), '{}')
	  into v_pid, v_puser, v_pplace, v_pat
	  from (select distinct on (t.id, w.user_id) t.id, w.user_id, w.place, t.created
	          from unnest(p_id, p_a, p_b, p_place_a, p_place_b, p_created) as t(id, a, b, pa, pb, created)
	          join unnest(v_new) as nw(id) on nw.id = t.id
	          cross join lateral (values (t.a, t.pa), (t.b, t.pb)) as w(user_id, place)
	         order by t.id, w.user_id, w.place nulls last) x;

	-- Places are compared to the millisecond (callers rebuild them from
	-- Unix milliseconds; the column keeps microseconds).
	perform 1 from queue_entries q
	  where q.user_id in (select u from unnest(v_puser, v_pplace) as p(u, place) where p.place is not null)
	  order by q.user_id collate "C" for update;
	select coalesce(array_agg(g.id), '{}'), coalesce(array_agg(g.why), '{}') into v_refused, v_why
	  from (select distinct on (p.id) p.id, 'conflict:place of ' || quote_literal(p.u) || ' is gone' as why
	          from unnest(v_pid, v_puser, v_pplace) as p(id, u, place)
	          left join queue_entries q on q.user_id = p.u
	         where p.place is not null
	           and (q.user_id is null or q.enqueued_at < p.place or q.enqueued_at >= p.place + interval '1 millisecond')
	         order by p.id, p.u collate "C") g;

	-- Claims in user order (v_puser is sorted), so two calls that want the
	-- same users wait for each other in one order.
	with claimed as (
		insert into match_members (user_id, match_id)
		select p.u, p.id from unnest(v_pid, v_puser) with ordinality as p(id, u, n)
		 where not p.id = any(v_refused)
		 order by p.n
		on conflict (user_id) do nothing
		returning user_id, match_id)
	select coalesce(array_agg(match_id), '{}'), coalesce(array_agg(user_id), '{}') into v_cid, v_cuser from claimed;

	-- The claims not taken.
	select coalesce(array_agg(p.id), '{}'), coalesce(array_agg(p.u), '{}'), coalesce(array_agg(p.at), '{}')
	  into v_sid, v_suser, v_sat
	  from unnest(v_pid, v_puser, v_pat) as p(id, u, at)
	  left join unnest(v_cid, v_cuser) as c(id, u) on c.id = p.id and c.u = p.u
	 where c.id is null and not p.id = any(v_refused);
	-- Their holders (a new statement: it sees a claim committed while the
	-- insert waited): one whose vote deadline is after the new match's
	-- creation is a conflict; one past it, or none (let go since), sends
	-- the match to the slow path. A conflict outranks a slow one.
	if cardinality(v_sid) > 0 then
		select v_refused || array_agg(s.id), v_why || array_agg(s.why)
		  into v_refused, v_why
		  from (select distinct on (p.id) p.id,
		               case when h.vote_deadline > p.at
		                    then 'conflict:claim ' || quote_literal(p.u) || ': in match ' || quote_literal(h.match_id)
		                         || ' until ' || h.vote_deadline::text
		                    else 'slow' end as why
		          from unnest(v_sid, v_suser, v_sat) as p(id, u, at)
		          left join lateral (select mm.match_id, m.vote_deadline
		                               from match_members mm join matches m on m.id = mm.match_id
		                              where mm.user_id = p.u) h on true
		         order by p.id, (h.vote_deadline > p.at) desc nulls last, p.u collate "C") s;
	end if;

	-- Deleting a refused match drops its claims with it (cascade).
	if cardinality(v_refused) > 0 then
		delete from matches where id = any(v_refused);
	end if;
	delete from queue_entries
	 where user_id in (select p.u from unnest(v_pid, v_puser) as p(id, u) where not p.id = any(v_refused));

	return query
	select t.n, case when nw.id is null then 'exists'
	                 else coalesce(v_why[array_position(v_refused, t.id)], 'created') end
	  from unnest(p_id) with ordinality as t(id, n)
	  left join unnest(v_new) as nw(id) on nw.id = t.id;
end
$$;
