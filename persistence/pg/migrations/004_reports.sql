-- Spinmatch schema, version 4: hourly and daily reports.

-- One report per period: (period, start_at) is the key, and writers use
-- insert ... on conflict do update where the stored row was computed no
-- later than the new one, so two writers racing (a reports grain that
-- moved while its old activation still ran) leave one row, the newer.
create table reports (
	period       text not null check (period in ('hour', 'day')),
	start_at     timestamptz not null,
	end_at       timestamptz not null,
	matches      bigint not null,
	mutual       bigint not null,
	no_match     bigint not null,
	success_rate double precision not null,
	avg_wait_s   jsonb not null,
	p90_wait_s   jsonb not null,
	abandoned    jsonb not null,
	peak_waiting bigint not null,
	alerts_fired bigint not null,
	computed_at  timestamptz not null,
	final        boolean not null,
	primary key (period, start_at)
);

-- Reports read waits and matches by time over every pool.
create index wait_samples_at on wait_samples (at);
create index matches_created_at on matches (created_at);
