-- alma-ext-server fleet store, PostgreSQL flavour. Times are Unix seconds,
-- days are days since 1970-01-01 (UTC); secrets are SHA-256 hex digests.
CREATE TABLE contracts (
    id               TEXT PRIMARY KEY,
    customer         TEXT NOT NULL,
    product          TEXT NOT NULL,
    quantity         BIGINT NOT NULL,
    starts           TEXT NOT NULL,
    ends             TEXT NOT NULL,
    platform_updates BIGINT NOT NULL DEFAULT 0,
    key_hash         TEXT NOT NULL UNIQUE,
    created_at       BIGINT NOT NULL,
    revoked_at       BIGINT
);

CREATE TABLE machines (
    id              TEXT PRIMARY KEY,
    contract_id     TEXT NOT NULL REFERENCES contracts(id),
    state           TEXT NOT NULL,
    token_hash      TEXT UNIQUE,
    repo_hash       TEXT,
    system_label    TEXT,
    machine_id      TEXT,
    dmi_uuid        TEXT,
    hostname        TEXT,
    kind            TEXT NOT NULL,
    hypervisor      TEXT,
    hypervisor_host BIGINT NOT NULL DEFAULT 0,
    cloud_provider  TEXT,
    cloud_account   TEXT,
    cloud_unit      TEXT,
    cluster         TEXT,
    os_major        BIGINT,
    guests_hash     TEXT,
    facts           TEXT NOT NULL,
    switch_status   TEXT,
    agent_version   TEXT,
    clone_of        TEXT,
    registered_at   BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    observed_at     BIGINT NOT NULL
);
CREATE INDEX machines_contract ON machines(contract_id);
CREATE INDEX machines_dmi_uuid ON machines(dmi_uuid);

CREATE TABLE platforms (
    id     TEXT PRIMARY KEY,
    hosts  TEXT NOT NULL,
    choice TEXT NOT NULL
);

CREATE TABLE targets (
    major      BIGINT PRIMARY KEY,
    target     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Which KVM host lists which guest (DMI UUID), from the hosts' check-ins.
CREATE TABLE host_guests (
    guest_uuid TEXT NOT NULL,
    host_id    TEXT NOT NULL,
    PRIMARY KEY (guest_uuid, host_id)
);
CREATE INDEX host_guests_host ON host_guests(host_id);

-- One row per machine and day it checked in.
CREATE TABLE presence (
    day        BIGINT NOT NULL,
    machine_id TEXT NOT NULL,
    PRIMARY KEY (day, machine_id)
);

-- Guests seen per day per group (a --system label "s:<label>" or a KVM
-- host "h:<machine>"): the compact history behind peak concurrent guests.
CREATE TABLE group_daily (
    day    BIGINT NOT NULL,
    grp    TEXT NOT NULL,
    guests BIGINT NOT NULL,
    PRIMARY KEY (day, grp)
);
