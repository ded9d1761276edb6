-- The latest `alma-ext security-status` summary of each machine (the
-- check-in's `security`, JSON). Written with the facts, only when the
-- facts or the summary changed (machines.facts_hash covers both), so the
-- check-in hot path is unchanged.
CREATE TABLE machine_security (
    machine_id TEXT PRIMARY KEY,
    summary    TEXT NOT NULL
);
