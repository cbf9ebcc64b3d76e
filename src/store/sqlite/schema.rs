//! Versioned migrations, tracked in `PRAGMA user_version`. Append only: a released migration is
//! never edited; a change is a new entry.

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the foundation.
    r#"
    CREATE TABLE persons (
        id          INTEGER PRIMARY KEY,
        golden      TEXT NOT NULL,
        tier        TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );

    CREATE TABLE identity_keys (
        kind       TEXT NOT NULL,
        value      TEXT NOT NULL,
        person_id  INTEGER NOT NULL,
        PRIMARY KEY (kind, value)
    ) WITHOUT ROWID;
    CREATE INDEX identity_keys_person ON identity_keys(person_id, kind);

    CREATE TABLE source_records (
        id           INTEGER PRIMARY KEY,
        connector    TEXT NOT NULL,
        locator_key  TEXT NOT NULL,
        locator      TEXT NOT NULL,
        person_id    INTEGER NOT NULL,
        observed_at  TEXT NOT NULL,
        archived     INTEGER NOT NULL DEFAULT 0,
        fields       TEXT NOT NULL,
        UNIQUE (connector, locator_key)
    );
    CREATE INDEX source_records_person ON source_records(person_id);

    CREATE TABLE cursors (
        connector   TEXT NOT NULL,
        stream      TEXT NOT NULL,
        version     INTEGER NOT NULL,
        pos_a       INTEGER NOT NULL,
        pos_b       INTEGER NOT NULL,
        finished    INTEGER NOT NULL,
        state       TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (connector, stream)
    );

    CREATE TABLE rejects (
        id           INTEGER PRIMARY KEY,
        connector    TEXT NOT NULL,
        stream       TEXT NOT NULL,
        locator_key  TEXT NOT NULL,
        locator      TEXT NOT NULL,
        reason       TEXT NOT NULL,
        cells        TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        UNIQUE (connector, locator_key)
    );
    CREATE INDEX rejects_stream ON rejects(connector, stream);

    CREATE TABLE conflicts (
        id              INTEGER PRIMARY KEY,
        connector       TEXT NOT NULL,
        locator         TEXT NOT NULL,
        key_kind        TEXT NOT NULL,
        key_value       TEXT NOT NULL,
        person_id       INTEGER NOT NULL,
        other_person_id INTEGER NOT NULL,
        reason          TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        resolved_at     TEXT,
        UNIQUE (connector, locator, key_kind, key_value)
    );
    CREATE INDEX conflicts_person ON conflicts(person_id);
    CREATE INDEX conflicts_other ON conflicts(other_person_id);

    CREATE TABLE tier_history (
        id             INTEGER PRIMARY KEY,
        person_id      INTEGER NOT NULL,
        from_tier      TEXT,
        to_tier        TEXT NOT NULL,
        rule           TEXT NOT NULL,
        rules_version  TEXT NOT NULL,
        evidence       TEXT NOT NULL,
        at             TEXT NOT NULL
    );
    CREATE INDEX tier_history_person ON tier_history(person_id);

    CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        connector  TEXT NOT NULL,
        stream     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        detail     TEXT NOT NULL,
        at         TEXT NOT NULL
    );
    CREATE INDEX events_connector ON events(connector, id);

    CREATE TABLE runs (
        id           INTEGER PRIMARY KEY,
        connector    TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        finished_at  TEXT,
        stats        TEXT
    );
    "#,
    // 2: qualification by rules.
    r#"
    ALTER TABLE persons ADD COLUMN rules_version TEXT;
    "#,
    // 3: the outbox of stage pushes, written with the tier changes that cause them.
    r#"
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY,
        connector   TEXT NOT NULL,
        record_id   TEXT NOT NULL,
        person_id   INTEGER NOT NULL,
        tier        TEXT NOT NULL,
        status      TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        reason      TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        UNIQUE (connector, record_id)
    );
    CREATE INDEX outbox_pending ON outbox(connector, status, id);
    CREATE INDEX outbox_person ON outbox(person_id);
    "#,
    // 4: small per-connector state that must survive restarts (the daily budget stop).
    r#"
    CREATE TABLE connector_state (
        connector   TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (connector, key)
    );
    "#,
    // 5: keys are looked up by person only to ask whether the person holds an id of a CRM, so
    // only CRM ids are indexed by person: emails and phones no longer pay a second index entry.
    r#"
    DROP INDEX identity_keys_person;
    CREATE INDEX identity_keys_crm_person ON identity_keys(person_id, kind)
        WHERE kind >= 'crm:' AND kind < 'crm;';
    "#,
    // 6: the stage leadsync set on a CRM record since it was last pulled, so a record whose
    // pulled stage is stale until the next pull is not asked again, and a stage lowered in the
    // CRM after a push is told apart from one that was never raised.
    r#"
    ALTER TABLE source_records ADD COLUMN pushed_tier TEXT;
    "#,
    // 7: several replicas on one store: leases with fencing epochs, outbox claims, the shared
    // request pace of each CRM account, and turns taken once per cluster (times as RFC 3339
    // text, compared as text).
    r#"
    CREATE TABLE leases (
        name         TEXT PRIMARY KEY,
        holder       TEXT NOT NULL,
        instance     TEXT NOT NULL,
        epoch        INTEGER NOT NULL,
        acquired_at  TEXT NOT NULL,
        expires_at   TEXT NOT NULL
    );
    ALTER TABLE outbox ADD COLUMN claim_token TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
    CREATE TABLE rate_ledger (
        account  TEXT PRIMARY KEY,
        next_at  INTEGER NOT NULL -- microseconds since 1970
    );
    CREATE TABLE cluster_marks (
        name  TEXT PRIMARY KEY,
        at    TEXT NOT NULL
    );
    "#,
    // 8: probabilistic matching: each person's blocking keys, merges (tombstones of merged-away
    // persons, with what a split needs), the review queue and the trained models.
    r#"
    CREATE TABLE match_blocks (
        block      INTEGER NOT NULL,
        person_id  INTEGER NOT NULL,
        PRIMARY KEY (block, person_id)
    ) WITHOUT ROWID;
    CREATE TABLE merges (
        id         INTEGER PRIMARY KEY,
        person_id  INTEGER NOT NULL,
        into_id    INTEGER NOT NULL,
        how        TEXT NOT NULL,
        score      REAL NOT NULL,
        detail     TEXT NOT NULL,
        before     TEXT NOT NULL,
        records    TEXT NOT NULL,
        keys       TEXT NOT NULL,
        history    TEXT NOT NULL,
        at         TEXT NOT NULL,
        split_at   TEXT
    );
    CREATE INDEX merges_person ON merges(person_id);
    CREATE INDEX merges_into ON merges(into_id);
    CREATE TABLE review_items (
        id             INTEGER PRIMARY KEY,
        a              INTEGER NOT NULL,
        b              INTEGER NOT NULL,
        score          REAL NOT NULL,
        detail         TEXT NOT NULL,
        fingerprint    TEXT NOT NULL,
        status         TEXT NOT NULL,
        ever_rejected  INTEGER NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL,
        decided_at     TEXT,
        UNIQUE (a, b)
    );
    CREATE INDEX review_items_status ON review_items(status, id);
    CREATE TABLE match_models (
        version     INTEGER PRIMARY KEY,
        model       TEXT NOT NULL,
        trained_at  TEXT NOT NULL
    );
    "#,
    // 9: notifications of overdue follow-ups, one row per breach (person, commitment,
    // deadline), sent once.
    r#"
    CREATE TABLE sla_breaches (
        person_id   INTEGER NOT NULL,
        sla         TEXT NOT NULL,
        due_at      TEXT NOT NULL,
        payload     TEXT NOT NULL,
        status      TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     TEXT NOT NULL,
        taken_at    TEXT,
        sent_at     TEXT,
        last_error  TEXT,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (person_id, sla, due_at)
    );
    CREATE INDEX sla_breaches_waiting ON sla_breaches(status, next_at);
    "#,
];
