-- The last day (days since the Unix epoch, UTC) whose presence row this
-- machine has, written with that row. A check-in reads it with the
-- credential lookup: only the first check-in of a day writes presence,
-- the others leave the presence table alone (on a fleet that checks in
-- every few hours, most check-ins). NULL: unknown, write it.
ALTER TABLE machines ADD COLUMN presence_day BIGINT;
