-- Spinmatch schema, version 1.

create table profiles (
	user_id      text primary key,
	display_name text not null,
	gender       text not null,
	seeking      text[] not null,
	pool         text not null,
	updated_at   timestamptz not null
);

-- A match is created once: its id is the primary key, and writers use
-- insert ... on conflict do nothing.
create table matches (
	id             text primary key,
	pool           text not null,
	a_user_id      text not null,
	a_display_name text not null,
	a_gender       text not null,
	b_user_id      text not null,
	b_display_name text not null,
	b_gender       text not null,
	created_at     timestamptz not null,
	date_ends_at   timestamptz not null,
	vote_deadline  timestamptz not null,
	wait_a_us      bigint not null,
	wait_b_us      bigint not null
);

-- History and recent partners look a user up on either side, newest first.
create index matches_a_user_created on matches (a_user_id, created_at desc);
create index matches_b_user_created on matches (b_user_id, created_at desc);

-- One vote per partner and match: the first one wins.
create table votes (
	match_id text not null references matches (id) on delete cascade,
	voter    text not null,
	choice   text not null check (choice in ('yes', 'no')),
	voted_at timestamptz not null default now(),
	constraint votes_match_voter_key unique (match_id, voter)
);

-- One result per match: the first one wins.
create table match_results (
	match_id   text primary key references matches (id) on delete cascade,
	result     text not null check (result in ('mutual', 'no_match')),
	decided_at timestamptz not null default now()
);

create table wait_samples (
	id      bigint generated always as identity primary key,
	pool    text not null,
	gender  text not null,
	wait_us bigint not null,
	outcome text not null,
	at      timestamptz not null
);

create index wait_samples_pool_at on wait_samples (pool, at desc);

create table audit_log (
	id     bigint generated always as identity primary key,
	at     timestamptz not null,
	actor  text not null,
	action text not null,
	detail text not null
);

create index audit_log_at on audit_log (at desc);
