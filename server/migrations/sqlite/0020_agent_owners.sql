-- An agent id belongs to whoever registered it first, whatever kind of caller: a
-- token (its id) or a caller without one (`user:NAME`, `user:local` without sign-in).
-- The column says so by its name; when the claim was made is kept for admins.
ALTER TABLE dashboard_agent_owners RENAME COLUMN token_id TO owner;
ALTER TABLE dashboard_agent_owners ADD COLUMN claimed_at DATETIME;

-- An agent token may be bound to workflows: the only ones its agents may declare and
-- it may record runs of (a JSON list; none: those its agents declare).
ALTER TABLE dashboard_tokens ADD COLUMN workflows TEXT;
