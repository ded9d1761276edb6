-- The console's fleet page pages over ids: the sort columns' indexes
-- carry the id (and, for host names, the columns a search reads), so a
-- deep page or a substring search walks one index and never the table;
-- only the page's rows are read in full.
DROP INDEX IF EXISTS machines_last_seen;
DROP INDEX IF EXISTS machines_hostname;
CREATE INDEX machines_last_seen_id ON machines(last_seen, id);
CREATE INDEX machines_hostname_id ON machines(hostname, id, machine_id, kind, contract_id);

-- Switch history for the machine page: every change of the switch state
-- a check-in reports, with the check-in's time. Written by triggers, so
-- the check-in path needs no second statement.
CREATE TABLE machine_switch_history (
    machine_id TEXT NOT NULL,
    at         BIGINT NOT NULL,
    status     TEXT NOT NULL
);
CREATE INDEX machine_switch_history_machine ON machine_switch_history(machine_id, at);

CREATE TRIGGER machines_switch_history_insert AFTER INSERT ON machines
WHEN NEW.switch_status IS NOT NULL AND NEW.switch_status <> ''
BEGIN
    INSERT INTO machine_switch_history (machine_id, at, status)
    VALUES (NEW.id, NEW.last_seen, NEW.switch_status);
END;

CREATE TRIGGER machines_switch_history_update AFTER UPDATE OF switch_status ON machines
WHEN NEW.switch_status IS NOT NULL AND NEW.switch_status <> ''
     AND NEW.switch_status IS NOT OLD.switch_status
BEGIN
    INSERT INTO machine_switch_history (machine_id, at, status)
    VALUES (NEW.id, NEW.last_seen, NEW.switch_status);
END;
