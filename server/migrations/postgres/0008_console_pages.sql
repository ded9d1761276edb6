-- The console's fleet page pages over ids: the sort columns' indexes
-- carry the id (and, for host names, the columns a search reads), so a
-- deep page or a substring search is an index-only scan; only the page's
-- rows are read in full.
DROP INDEX IF EXISTS machines_last_seen;
DROP INDEX IF EXISTS machines_hostname;
CREATE INDEX machines_last_seen_id ON machines(last_seen, id);
CREATE INDEX machines_hostname_id ON machines(hostname, id) INCLUDE (machine_id, kind, contract_id);

-- Switch history for the machine page: every change of the switch state
-- a check-in reports, with the check-in's time. Written by a trigger, so
-- the check-in path needs no second statement.
CREATE TABLE machine_switch_history (
    machine_id TEXT NOT NULL,
    at         BIGINT NOT NULL,
    status     TEXT NOT NULL
);
CREATE INDEX machine_switch_history_machine ON machine_switch_history(machine_id, at);

CREATE FUNCTION machines_switch_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO machine_switch_history (machine_id, at, status)
    VALUES (NEW.id, NEW.last_seen, NEW.switch_status);
    RETURN NULL;
END
$$;

-- The WHEN clauses keep the function out of the check-in path: a
-- check-in that reports the same state as before calls nothing.
CREATE TRIGGER machines_switch_history_insert AFTER INSERT ON machines
FOR EACH ROW WHEN (NEW.switch_status IS NOT NULL AND NEW.switch_status <> '')
EXECUTE FUNCTION machines_switch_history();

CREATE TRIGGER machines_switch_history_update AFTER UPDATE OF switch_status ON machines
FOR EACH ROW WHEN (NEW.switch_status IS NOT NULL AND NEW.switch_status <> ''
                   AND NEW.switch_status IS DISTINCT FROM OLD.switch_status)
EXECUTE FUNCTION machines_switch_history();
