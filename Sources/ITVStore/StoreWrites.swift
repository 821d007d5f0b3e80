import Foundation
import GRDB
import ITVCore
import ITVEngine

/// Turns `StoreChange`s into upserts and appends. Runs inside the writer's transaction.
enum StoreWrites {
    /// Applies one caller's changes. Rollouts go first so that a caller may list a new rollout after its
    /// waves or host runs (the foreign keys are checked per statement); otherwise the given order is kept,
    /// which is what makes host runs come back in the order they were first committed.
    static func apply(_ changes: [StoreChange], in db: Database) throws {
        for change in changes {
            if case .rollout(let rollout) = change { try upsert(rollout, db) }
        }
        for change in changes {
            switch change {
            case .rollout: continue
            case .wave(let wave): try upsert(wave, db)
            case .approval(let approval): try append(approval, db)
            case .hostRun(let run): try upsert(run, db)
            case .audit(let entry): try append(entry, db)
            case .release(let release): try upsert(release, db)
            case .hostVersion(let seen): try upsert(seen, db)
            case .rebootPending(let r):
                try db.cachedStatement(
                    sql: """
                        INSERT INTO host_reboots (host, procedure, rollout_id, since) VALUES (?, ?, ?, ?)
                        ON CONFLICT (host, procedure) DO UPDATE SET rollout_id = excluded.rollout_id,
                            since = excluded.since
                        """
                ).execute(arguments: [r.host, r.procedure, r.rolloutID, r.since])
            case .rebootDone(let host):
                try db.cachedStatement(sql: "DELETE FROM host_reboots WHERE host = ?").execute(arguments: [host])
            case .window(let window): try upsert(window, db)
            case .feedState(let procedure, let json):
                try db.cachedStatement(
                    sql: """
                        INSERT INTO feed_states (procedure, state) VALUES (?, ?)
                        ON CONFLICT (procedure) DO UPDATE SET state = excluded.state
                        """
                ).execute(arguments: [procedure, json])
            case .outbox(let record): try StoreOutbox.insert(record, db)
            case .outboxAttempt(let id, let sink, let outcome): try StoreOutbox.record(id, sink, outcome, db)
            case .artifact(let record): try upsert(record, db)
            }
        }
    }

    /// Hands out the next rollout id: above every id ever handed out and every id in the table.
    static func allocateRolloutID(in db: Database) throws -> Int64 {
        let counter = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'rollout_id'") ?? 0
        let highest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM rollouts") ?? 0
        let next = max(counter, highest) + 1
        try db.execute(
            sql: """
                INSERT INTO counters (name, value) VALUES ('rollout_id', ?)
                ON CONFLICT (name) DO UPDATE SET value = excluded.value
                """, arguments: [next])
        return next
    }

    /// Upserts a rollout; `conflict` when it would be a second active rollout of its procedure.
    private static func upsert(_ r: RolloutRecord, _ db: Database) throws {
        do {
            try upsertRow(r, db)
        } catch let error as DatabaseError
            where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE && !r.phase.isFinal
            && (error.message ?? "").contains("rollouts.procedure")
        {
            let other = try Row.fetchOne(
                db, sql: "SELECT id, version, phase FROM rollouts WHERE procedure = ? AND finished = 0 AND id != ?",
                arguments: [r.procedure, r.id])
            let named =
                other.map { row -> String in
                    let id: Int64 = row["id"]
                    let version: String = row["version"]
                    let phase: String = row["phase"]
                    return "rollout \(id) (\(version), \(phase.replacingOccurrences(of: "_", with: " ")))"
                } ?? "another rollout"
            throw StoreError(
                kind: .conflict,
                message: "rollout \(r.id) of \(r.procedure) cannot be active: \(named) of \(r.procedure) is active, "
                    + "and at most one rollout of a procedure may be")
        }
    }

    private static func upsertRow(_ r: RolloutRecord, _ db: Database) throws {
        let recipe: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            recipe = String(decoding: try encoder.encode(r.recipe), as: UTF8.self)
        } catch {
            throw StoreError(kind: .io, message: "cannot store rollout \(r.id): its recipe does not encode: \(error)")
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO rollouts (id, procedure, version, phase, resume_phase, current_wave, plan_hash, recipe,
                    reason, finished, created_at, created_by, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET procedure = excluded.procedure, version = excluded.version,
                    phase = excluded.phase, resume_phase = excluded.resume_phase,
                    current_wave = excluded.current_wave, plan_hash = excluded.plan_hash, recipe = excluded.recipe,
                    reason = excluded.reason, finished = excluded.finished, created_at = excluded.created_at,
                    created_by = excluded.created_by, updated_at = excluded.updated_at
                """
        ).execute(arguments: [
            r.id, r.procedure, r.version, r.phase.rawValue, r.resumePhase?.rawValue, r.currentWave, r.planHash,
            recipe, r.reason, r.phase.isFinal, r.createdAt, r.createdBy, r.updatedAt,
        ])
    }

    private static func upsert(_ w: WaveRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO waves (rollout_id, wave_index, name, approval, approvals_needed, bake_seconds, parallel,
                    phase, started_at, finished_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (rollout_id, wave_index) DO UPDATE SET name = excluded.name,
                    approval = excluded.approval, approvals_needed = excluded.approvals_needed,
                    bake_seconds = excluded.bake_seconds, parallel = excluded.parallel, phase = excluded.phase,
                    started_at = excluded.started_at, finished_at = excluded.finished_at
                """
        ).execute(arguments: [
            w.rolloutID, w.index, w.name, w.approval.rawValue, w.approvalsNeeded, w.bakeSeconds, w.parallel,
            w.phase.rawValue, w.startedAt, w.finishedAt,
        ])
    }

    private static func append(_ a: ApprovalRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO approvals (rollout_id, wave_index, source, user, uid, comment, plan_hash, at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            a.rolloutID, a.wave, a.source.rawValue, a.user, Int64(a.uid), a.comment, a.planHash, a.at,
        ])
    }

    /// The row keeps its `seq` on update: the order of a rollout's host runs is the order of first insert.
    private static func upsert(_ h: HostRunRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO host_runs (rollout_id, host, wave_index, phase, step, step_in_flight, previous, changed,
                    install_attempts, error_kind, error, updated_at, reboot_pending, exit_retries, reboot_started_at,
                    reboot_went_down, defer_reason, first_attempt_at, next_attempt_at, deferrals, wake_lead_seconds,
                    woken_for, wakes, stage_attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (rollout_id, host) DO UPDATE SET wave_index = excluded.wave_index,
                    phase = excluded.phase, step = excluded.step, step_in_flight = excluded.step_in_flight,
                    previous = excluded.previous, changed = excluded.changed,
                    install_attempts = excluded.install_attempts, error_kind = excluded.error_kind,
                    error = excluded.error, updated_at = excluded.updated_at,
                    reboot_pending = excluded.reboot_pending, exit_retries = excluded.exit_retries,
                    reboot_started_at = excluded.reboot_started_at, reboot_went_down = excluded.reboot_went_down,
                    defer_reason = excluded.defer_reason,
                    first_attempt_at = excluded.first_attempt_at, next_attempt_at = excluded.next_attempt_at,
                    deferrals = excluded.deferrals, wake_lead_seconds = excluded.wake_lead_seconds,
                    woken_for = excluded.woken_for, wakes = excluded.wakes,
                    stage_attempts = excluded.stage_attempts
                """
        ).execute(arguments: [
            h.rolloutID, h.host, h.wave, h.phase.rawValue, h.step?.rawValue, h.stepInFlight, h.previous, h.changed,
            h.installAttempts, h.errorKind, h.error, h.updatedAt, h.rebootPending, h.exitRetries, h.rebootStartedAt,
            h.rebootWentDown, h.deferReason, h.firstAttemptAt, h.nextAttemptAt, h.deferrals, h.wakeLeadSeconds,
            h.wokenFor, h.wakes, h.stageAttempts,
        ])
    }

    /// Appended: the store assigns the id (an id in the record is ignored).
    private static func append(_ e: AuditRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO audit (at, user, uid, action, target, comment, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [e.at, e.user, Int64(e.uid), e.action, e.target, e.comment, e.outcome])
    }

    private static func upsert(_ a: ArtifactRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO artifacts (procedure, version, url, state, name, size, sha256, verified_by, rejection,
                    message, expected, actual, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (procedure, version) DO UPDATE SET url = excluded.url, state = excluded.state,
                    name = excluded.name, size = excluded.size, sha256 = excluded.sha256,
                    verified_by = excluded.verified_by, rejection = excluded.rejection, message = excluded.message,
                    expected = excluded.expected, actual = excluded.actual, at = excluded.at
                """
        ).execute(
            arguments: [
                a.procedure, a.version, a.url, a.state.rawValue, a.name, a.size, a.sha256, a.verifiedBy, a.rejection,
                a.message, a.expected, a.actual, a.at,
            ])
    }

    private static func upsert(_ r: ReleaseRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO releases (procedure, version, first_seen, feed_url, feed_sha256) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (procedure, version) DO UPDATE SET first_seen = excluded.first_seen,
                    feed_url = excluded.feed_url, feed_sha256 = excluded.feed_sha256
                """
        ).execute(arguments: [r.procedure, r.version, r.firstSeen, r.feedURL, r.feedSHA256])
    }

    private static func upsert(_ v: HostVersionRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO host_versions (host, procedure, version, seen_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (host, procedure) DO UPDATE SET version = excluded.version, seen_at = excluded.seen_at
                """
        ).execute(arguments: [v.host, v.procedure, v.version, v.seenAt])
    }

    private static func upsert(_ w: WindowRecord, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO windows (name, open_until, changed_by, changed_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET open_until = excluded.open_until,
                    changed_by = excluded.changed_by, changed_at = excluded.changed_at
                """
        ).execute(arguments: [w.name, w.openUntil, w.changedBy, w.changedAt])
    }
}
