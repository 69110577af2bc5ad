-- Placeholder for version 3, which the audit branch owns (003_audit.sql):
-- tern refuses a gap in the sequence, and 004_reports.sql follows it.
-- When the audit branch lands, its file replaces this one.
select 1;
