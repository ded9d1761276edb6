-- A machine's facts (about 2 KB of JSON that rarely changes) live apart
-- from its row, which every check-in rewrites and the live count scans:
-- the row stays narrow, and unchanged facts are not written again.
CREATE TABLE machine_facts (
    machine_id TEXT PRIMARY KEY,
    facts      TEXT NOT NULL
);
INSERT INTO machine_facts (machine_id, facts) SELECT id, facts FROM machines;
ALTER TABLE machines DROP COLUMN facts;
-- SHA-256 of the stored facts: a check-in whose facts hash the same
-- sends no facts to the database at all.
ALTER TABLE machines ADD COLUMN facts_hash TEXT;
