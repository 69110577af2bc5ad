-- Spinmatch schema, version 3: the audit log says what an action was
-- about and where it came from (PROTOCOL.md, GET /api/admin/audit).

alter table audit_log
	add column if not exists target text not null default '',
	add column if not exists ip text not null default '';
