import GRDB

/// The store's schema, as versioned migrations. A migration, once released, never changes: a new itvd
/// adds one. A database that lists a migration this binary does not know was written by a newer itvd and
/// is refused (`too_new`) rather than guessed at.
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: createV1)
        migrator.registerMigration("v2-one-active-rollout-per-procedure", migrate: oneActiveRolloutPerProcedure)
        migrator.registerMigration("v_outbox", migrate: StoreOutbox.createOutbox)
        migrator.registerMigration("v_rollouts_by_procedure_version", migrate: rolloutsByProcedureVersion)
        migrator.registerMigration("v_host_run_deferral", migrate: hostRunDeferral)
        migrator.registerMigration("v_artifacts", migrate: createArtifacts)
        migrator.registerMigration("v_host_run_reboots", migrate: hostRunReboots)
        migrator.registerMigration("v_release_feed_sha256", migrate: releaseFeedSHA256)
        migrator.registerMigration("v_host_run_stage_attempts", migrate: hostRunStageAttempts)
        return migrator
    }

    /// How often `stage` was sent in a row without a known outcome (issue 14): kept across restarts, so that a
    /// host that always drops mid-stage fails after a bounded number of sends. Add-only: 0 for existing rows.
    private static func hostRunStageAttempts(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE host_runs ADD COLUMN stage_attempts INTEGER NOT NULL DEFAULT 0")
    }

    /// Deferred host runs (unreached hosts tried again later) and Wake-on-LAN: why and until when a host
    /// waits, when its first attempt was (its reach deadline counts from it), and the packets sent.
    private static func hostRunDeferral(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE host_runs ADD COLUMN defer_reason TEXT;
                ALTER TABLE host_runs ADD COLUMN first_attempt_at INTEGER;
                ALTER TABLE host_runs ADD COLUMN next_attempt_at INTEGER;
                ALTER TABLE host_runs ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE host_runs ADD COLUMN wake_lead_seconds INTEGER;
                ALTER TABLE host_runs ADD COLUMN woken_for INTEGER;
                ALTER TABLE host_runs ADD COLUMN wakes INTEGER NOT NULL DEFAULT 0;
                """)
    }

    /// The name of the index that keeps at most one active rollout per procedure (`StoreWrites` recognizes
    /// its violation and reports it as `conflict`).
    static let oneActiveRolloutIndex = "rollouts_one_active_per_procedure"

    /// At most one active rollout per procedure, as a partial unique index: the second line behind the
    /// engine's own check (an unfinished rollout has `finished = 0`, see v1).
    ///
    /// A store written before it may hold several active rollouts of one procedure (concurrent starts could
    /// pass the engine's check then): all but the newest of each procedure are aborted, with the reason and an
    /// audit entry, so that the index can be made and the daemon starts.
    private static func oneActiveRolloutPerProcedure(_ db: Database) throws {
        let older = """
            finished = 0 AND id < (SELECT MAX(newer.id) FROM rollouts AS newer
                WHERE newer.procedure = rollouts.procedure AND newer.finished = 0)
            """
        let now = "CAST(strftime('%s', 'now') AS INTEGER) * 1000"
        try db.execute(
            sql: """
                INSERT INTO audit (at, user, uid, action, target, comment, outcome)
                SELECT \(now), 'itvd', 0, 'rollout.abort', 'rollout ' || id,
                    'store upgrade: rollout ' || (SELECT MAX(newer.id) FROM rollouts AS newer
                        WHERE newer.procedure = rollouts.procedure AND newer.finished = 0)
                    || ' of ' || procedure || ' is active too; at most one rollout of a procedure may be', 'ok'
                FROM rollouts WHERE \(older) ORDER BY id;
                UPDATE waves SET phase = CASE phase WHEN 'waiting_approval' THEN 'pending' ELSE 'halted' END
                WHERE phase IN ('waiting_approval', 'running')
                    AND rollout_id IN (SELECT id FROM rollouts WHERE \(older));
                UPDATE rollouts SET phase = 'aborted', resume_phase = NULL, finished = 1, updated_at = \(now),
                    reason = 'aborted by the store upgrade: a newer rollout of ' || procedure || ' is active too'
                WHERE \(older);
                CREATE UNIQUE INDEX \(oneActiveRolloutIndex) ON rollouts(procedure) WHERE finished = 0;
                """)
    }

    /// The rollouts of one version of a procedure, looked up (`hasRollout`: has auto_plan planned it?) rather
    /// than found by a scan of the newest rollouts. Add-only: an index, no data changes.
    static let rolloutsByProcedureVersionIndex = "rollouts_by_procedure_version"

    private static func rolloutsByProcedureVersion(_ db: Database) throws {
        try db.execute(sql: "CREATE INDEX \(rolloutsByProcedureVersionIndex) ON rollouts(procedure, version)")
    }

    /// The artifact of each release of an `artifact:` playbook: verified (its bytes in the cache,
    /// `<state>/artifacts/sha256/<sha256>`) or rejected (why, and the two digests when they differed).
    private static func createArtifacts(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE artifacts (
                    procedure TEXT NOT NULL,
                    version TEXT NOT NULL,
                    url TEXT NOT NULL,
                    state TEXT NOT NULL,
                    name TEXT NOT NULL,
                    size INTEGER,
                    sha256 TEXT,
                    verified_by TEXT,
                    rejection TEXT,
                    message TEXT,
                    expected TEXT,
                    actual TEXT,
                    at INTEGER NOT NULL,
                    PRIMARY KEY (procedure, version)
                );
                """)
    }

    /// `sha256_from_feed`: the digest the feed entry announcing a release gave, kept with the release so that a
    /// restart (or a plan days later) verifies against what the feed said then. Add-only: a nullable column.
    private static func releaseFeedSHA256(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE releases ADD COLUMN feed_sha256 TEXT")
    }

    /// Installer exit codes and reboots (issue 13): "reboot pending", resends after a `retry` exit code, and
    /// the durable wait for a restarting host (its start, and whether it was seen down).
    private static func hostRunReboots(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE host_runs ADD COLUMN reboot_pending INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE host_runs ADD COLUMN exit_retries INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE host_runs ADD COLUMN reboot_started_at INTEGER;
                ALTER TABLE host_runs ADD COLUMN reboot_went_down INTEGER NOT NULL DEFAULT 0;
                -- Hosts that must restart ("reboot pending"), per procedure whose install said so.
                CREATE TABLE host_reboots (
                    host TEXT NOT NULL,
                    procedure TEXT NOT NULL,
                    rollout_id INTEGER NOT NULL,
                    since INTEGER NOT NULL,
                    PRIMARY KEY (host, procedure)
                );
                """)
    }

    /// Names and columns are stable: other tools (and a later itvd) read them. Times are milliseconds
    /// since the Unix epoch; booleans are 0/1; enums are their raw values.
    static func createV1(_ db: Database) throws {
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
