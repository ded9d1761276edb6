-- `machine retire`: licensing staff take a machine out of the count for
-- good. Its row stays for the record with state 'retired', its credential
-- and repository password are cleared, and this is when (Unix seconds).
ALTER TABLE machines ADD COLUMN retired_at BIGINT;
