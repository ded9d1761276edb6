-- The web console (docs/console.md): people who log in, the contracts a
-- customer user may see, and login sessions. Passwords are Argon2id PHC
-- strings; a session is kept by the SHA-256 of its cookie value.
CREATE TABLE console_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE console_user_contracts (
    user_name TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
    contract_id TEXT NOT NULL REFERENCES contracts(id),
    PRIMARY KEY (user_name, contract_id)
);

CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    lang TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions(user_name);

-- The console's fleet page filters and sorts in SQL.
CREATE INDEX machines_last_seen ON machines(last_seen);
CREATE INDEX machines_hostname ON machines(hostname);
