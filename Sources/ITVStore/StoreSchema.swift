import GRDB

/// The store's schema, as versioned migrations. A migration, once released, never changes: a new itvd
/// adds one. A database that lists a migration this binary does not know was written by a newer itvd and
/// is refused (`too_new`) rather than guessed at.
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: createV1)
        migrator.registerMigration("v_outbox", migrate: StoreOutbox.createOutbox)
        return migrator
    }

    /// Names and columns are stable: other tools (and a later itvd) read them. Times are milliseconds
    /// since the Unix epoch; booleans are 0/1; enums are their raw values.
    private static func createV1(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE rollouts (
                    id INTEGER PRIMARY KEY,
                    procedure TEXT NOT NULL,
                    version TEXT NOT NULL,
                    phase TEXT NOT NULL,
                    resume_phase TEXT,
                    current_wave INTEGER NOT NULL,
                    plan_hash TEXT NOT NULL,
                    recipe TEXT NOT NULL,
                    reason TEXT,
                    -- 1 when the phase is final (RolloutPhase.isFinal) as of the last write; indexed for the
                    -- active list, so that the list does not spell out the final phases in SQL.
                    finished INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX rollouts_active ON rollouts(finished, id);

                CREATE TABLE waves (
                    rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
                    wave_index INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    approval TEXT NOT NULL,
                    approvals_needed INTEGER NOT NULL,
                    bake_seconds INTEGER NOT NULL,
                    parallel INTEGER,
                    phase TEXT NOT NULL,
                    started_at INTEGER,
                    finished_at INTEGER,
                    PRIMARY KEY (rollout_id, wave_index)
                );

                CREATE TABLE approvals (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
                    wave_index INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    user TEXT NOT NULL,
                    uid INTEGER NOT NULL,
                    comment TEXT,
                    plan_hash TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX approvals_by_rollout ON approvals(rollout_id, id);

                -- seq: the order of first insert (kept by upserts): plan order within a wave.
                CREATE TABLE host_runs (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
                    host TEXT NOT NULL,
                    wave_index INTEGER NOT NULL,
                    phase TEXT NOT NULL,
                    step TEXT,
                    step_in_flight INTEGER NOT NULL,
                    previous TEXT,
                    changed INTEGER NOT NULL,
                    install_attempts INTEGER NOT NULL,
                    error_kind TEXT,
                    error TEXT,
                    updated_at INTEGER NOT NULL,
                    UNIQUE (rollout_id, host)
                );
                CREATE INDEX host_runs_by_rollout ON host_runs(rollout_id, wave_index, seq);

                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    user TEXT NOT NULL,
                    uid INTEGER NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    comment TEXT,
                    outcome TEXT NOT NULL
                );
                CREATE INDEX audit_by_time ON audit(at, id);

                CREATE TABLE releases (
                    procedure TEXT NOT NULL,
                    version TEXT NOT NULL,
                    first_seen INTEGER NOT NULL,
                    feed_url TEXT NOT NULL,
                    PRIMARY KEY (procedure, version)
                );

                CREATE TABLE host_versions (
                    host TEXT NOT NULL,
                    procedure TEXT NOT NULL,
                    version TEXT,
                    seen_at INTEGER NOT NULL,
                    PRIMARY KEY (host, procedure)
                );

                CREATE TABLE windows (
                    name TEXT PRIMARY KEY NOT NULL,
                    open_until INTEGER,
                    changed_by TEXT NOT NULL,
                    changed_at INTEGER NOT NULL
                );

                CREATE TABLE feed_states (
                    procedure TEXT PRIMARY KEY NOT NULL,
                    state TEXT NOT NULL
                );

                -- The highest rollout id ever handed out, so that an id is never reused.
                CREATE TABLE counters (
                    name TEXT PRIMARY KEY NOT NULL,
                    value INTEGER NOT NULL
                );
                """)
    }
}
