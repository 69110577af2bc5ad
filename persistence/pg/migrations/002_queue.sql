-- Spinmatch schema, version 2: queue places and match membership.

-- A queued user's place in a pool, one per user. Written with
-- insert ... on conflict (user_id) do update; CreateMatch deletes both
-- partners' places in the transaction that creates the match.
create table queue_entries (
	user_id      text primary key,
	pool         text not null,
	display_name text not null,
	gender       text not null,
	seeking      text[] not null,
	enqueued_at  timestamptz not null
);

-- A pool's places, oldest first, ties by user id in byte order.
create index queue_entries_pool_order on queue_entries (pool, enqueued_at, user_id collate "C");

-- The claim that a user is in a match that has no result yet: the primary
-- key makes it one match per user. CreateMatch inserts both partners' rows
-- in the transaction that creates the match (insert ... on conflict do
-- nothing, then a look at the holder); recording the match's result deletes
-- them.
create table match_members (
	user_id  text primary key,
	match_id text not null references matches (id) on delete cascade
);

create index match_members_match on match_members (match_id);

-- Dates under way while this migration runs keep their partners: each user
-- is claimed by their newest match without a result whose vote deadline has
-- not passed.
insert into match_members (user_id, match_id)
select distinct on (p.user_id) p.user_id, p.id
  from (select a_user_id as user_id, id, created_at, vote_deadline from matches
        union all
        select b_user_id, id, created_at, vote_deadline from matches) p
 where p.vote_deadline > now()
   and not exists (select 1 from match_results r where r.match_id = p.id)
 order by p.user_id, p.created_at desc, p.id desc;
