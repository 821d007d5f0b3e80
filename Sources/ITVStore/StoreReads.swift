import Foundation
import GRDB
import ITVCore
import ITVEngine

/// Reads records back. A stored value this binary cannot understand (an unknown phase, a recipe that
/// does not decode) is reported as `corrupt`, never guessed or trapped on.
enum StoreReads {
    static func snapshots(_ db: Database, whereSQL: String, arguments: StatementArguments) throws
        -> [RolloutSnapshot]
    {
        let rollouts = try Row.fetchAll(
            db, sql: "SELECT * FROM rollouts WHERE \(whereSQL) ORDER BY id",
            arguments: arguments
        ).map(rollout)
        return try rollouts.map { r in
            let id = r.id
            let waves = try Row.fetchAll(
                db, sql: "SELECT * FROM waves WHERE rollout_id = ? ORDER BY wave_index", arguments: [id]
            ).map(wave)
            let approvals = try Row.fetchAll(
                db, sql: "SELECT * FROM approvals WHERE rollout_id = ? ORDER BY id", arguments: [id]
            ).map(approval)
            let runs = try Row.fetchAll(
                db, sql: "SELECT * FROM host_runs WHERE rollout_id = ? ORDER BY wave_index, seq", arguments: [id]
            ).map(hostRun)
            return RolloutSnapshot(rollout: r, waves: waves, approvals: approvals, hostRuns: runs)
        }
    }

    static func rollouts(_ db: Database, includeFinished: Bool, limit: Int) throws -> [RolloutRecord] {
        let filter = includeFinished ? "" : "WHERE finished = 0"
        return try Row.fetchAll(
            db, sql: "SELECT * FROM rollouts \(filter) ORDER BY id DESC LIMIT ?", arguments: [max(limit, 0)]
        ).map(rollout)
    }

    /// One probe of the index `rollouts_by_procedure_version`.
    static func hasRollout(_ db: Database, procedure: String, version: String) throws -> Bool {
        try Bool.fetchOne(db, sql: hasRolloutSQL, arguments: [procedure, version]) ?? false
    }

    static let hasRolloutSQL = "SELECT EXISTS (SELECT 1 FROM rollouts WHERE procedure = ? AND version = ?)"

    static func audit(_ db: Database, since: EpochMillis?, limit: Int) throws -> [AuditRecord] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM audit WHERE at >= ? ORDER BY at, id LIMIT ?",
            arguments: [since ?? Int64.min, max(limit, 0)]
        ).map { row in
            AuditRecord(
                id: try row.decode(Int64.self, forColumn: "id"), at: try row.decode(forColumn: "at"),
                user: try row.decode(forColumn: "user"), uid: try uid(row), action: try row.decode(forColumn: "action"),
                target: try row.decode(forColumn: "target"), comment: try row.decode(forColumn: "comment"),
                outcome: try row.decode(forColumn: "outcome"))
        }
    }

    /// Newest first by id (a reverse scan of the table, no sort of the whole trail), one row at a time; a
    /// row's comment is decoded only once it is known to fit the page.
    static func auditPage(_ db: Database, since: EpochMillis?, before: Int64?, limit: Int, maxBytes: Int) throws
        -> AuditPage
    {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT id, at, user, uid, action, target, outcome, length(CAST(comment AS BLOB)) AS comment_bytes
                FROM audit NOT INDEXED WHERE id < ? AND at >= ? ORDER BY id DESC
                """,
            arguments: [before ?? Int64.max, since ?? Int64.min])
        var records: [AuditRecord] = []
        var bytes = 0
        while let row = try rows.next() {
            let id = try row.decode(Int64.self, forColumn: "id")
            var record = AuditRecord(
                id: id, at: try row.decode(forColumn: "at"), user: try row.decode(forColumn: "user"),
                uid: try uid(row), action: try row.decode(forColumn: "action"),
                target: try row.decode(forColumn: "target"), outcome: try row.decode(forColumn: "outcome"))
            let commentBytes = (row["comment_bytes"] as Int64?).map(Int.init)
            let weight = AuditPage.weight(record) + (commentBytes ?? 0)
            if records.count >= max(limit, 1) || (!records.isEmpty && bytes + weight > maxBytes) {
                return AuditPage(records: records.reversed(), more: true)
            }
            if commentBytes != nil {
                record.comment = try String.fetchOne(
                    db, sql: "SELECT comment FROM audit WHERE id = ?", arguments: [id])
            }
            records.append(record)
            bytes += weight
        }
        return AuditPage(records: records.reversed(), more: false)
    }

    static func releases(_ db: Database, procedure: String?) throws -> [ReleaseRecord] {
        let rows: [Row]
        if let procedure {
            rows = try Row.fetchAll(
                db, sql: "SELECT * FROM releases WHERE procedure = ? ORDER BY first_seen, version",
                arguments: [procedure])
        } else {
            rows = try Row.fetchAll(db, sql: "SELECT * FROM releases ORDER BY procedure, first_seen, version")
        }
        return try rows.map { row in
            ReleaseRecord(
                procedure: try row.decode(forColumn: "procedure"), version: try row.decode(forColumn: "version"),
                firstSeen: try row.decode(forColumn: "first_seen"), feedURL: try row.decode(forColumn: "feed_url"),
                feedSHA256: try row.decode(forColumn: "feed_sha256"))
        }
    }

    static func artifacts(_ db: Database) throws -> [ArtifactRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM artifacts ORDER BY procedure, at, version").map { row in
            let state: String = try row.decode(forColumn: "state")
            return ArtifactRecord(
                procedure: try row.decode(forColumn: "procedure"), version: try row.decode(forColumn: "version"),
                url: try row.decode(forColumn: "url"), state: ArtifactRecord.State(rawValue: state) ?? .rejected,
                name: try row.decode(forColumn: "name"), size: try row.decode(forColumn: "size"),
                sha256: try row.decode(forColumn: "sha256"), verifiedBy: try row.decode(forColumn: "verified_by"),
                rejection: try row.decode(forColumn: "rejection"), message: try row.decode(forColumn: "message"),
                expected: try row.decode(forColumn: "expected"), actual: try row.decode(forColumn: "actual"),
                at: try row.decode(forColumn: "at"))
        }
    }

    static func hostVersions(_ db: Database) throws -> [HostVersionRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM host_versions ORDER BY host, procedure").map { row in
            HostVersionRecord(
                host: try row.decode(forColumn: "host"), procedure: try row.decode(forColumn: "procedure"),
                version: try row.decode(forColumn: "version"), seenAt: try row.decode(forColumn: "seen_at"))
        }
    }

    static func pendingReboots(_ db: Database) throws -> [PendingReboot] {
        try Row.fetchAll(db, sql: "SELECT * FROM host_reboots ORDER BY host, procedure").map { row in
            PendingReboot(
                host: try row.decode(forColumn: "host"), procedure: try row.decode(forColumn: "procedure"),
                rolloutID: try row.decode(forColumn: "rollout_id"), since: try row.decode(forColumn: "since"))
        }
    }

    static func windows(_ db: Database) throws -> [WindowRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM windows ORDER BY name").map { row in
            WindowRecord(
                name: try row.decode(forColumn: "name"), openUntil: try row.decode(forColumn: "open_until"),
                changedBy: try row.decode(forColumn: "changed_by"), changedAt: try row.decode(forColumn: "changed_at"))
        }
    }

    static func feedStates(_ db: Database) throws -> [String: String] {
        var states: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT procedure, state FROM feed_states") {
            states[try row.decode(forColumn: "procedure")] = try row.decode(String.self, forColumn: "state")
        }
        return states
    }

    // MARK: - Rows to records

    private static func rollout(_ row: Row) throws -> RolloutRecord {
        let id: Int64 = try row.decode(forColumn: "id")
        let what = "rollout \(id)"
        let json: String = try row.decode(forColumn: "recipe")
        let recipe: RolloutRecipe
        do {
            recipe = try JSONDecoder().decode(RolloutRecipe.self, from: Data(json.utf8))
        } catch {
            throw StoreError(
                kind: .corrupt, message: "cannot read \(what): its stored recipe does not decode: \(error)")
        }
        let resume: String? = try row.decode(forColumn: "resume_phase")
        return RolloutRecord(
            id: id, procedure: try row.decode(forColumn: "procedure"), version: try row.decode(forColumn: "version"),
            phase: try value(RolloutPhase.self, row, "phase", what),
            resumePhase: try resume.map { try parse(RolloutPhase.self, $0, "resume_phase", what) },
            currentWave: try row.decode(forColumn: "current_wave"), planHash: try row.decode(forColumn: "plan_hash"),
            recipe: recipe, reason: try row.decode(forColumn: "reason"),
            createdAt: try row.decode(forColumn: "created_at"),
            createdBy: try row.decode(forColumn: "created_by"), updatedAt: try row.decode(forColumn: "updated_at"))
    }

    private static func wave(_ row: Row) throws -> WaveRecord {
        let rolloutID: Int64 = try row.decode(forColumn: "rollout_id")
        let index: Int = try row.decode(forColumn: "wave_index")
        let what = "wave \(index) of rollout \(rolloutID)"
        return WaveRecord(
            rolloutID: rolloutID, index: index, name: try row.decode(forColumn: "name"),
            approval: try value(ApprovalKind.self, row, "approval", what),
            approvalsNeeded: try row.decode(forColumn: "approvals_needed"),
            bakeSeconds: try row.decode(forColumn: "bake_seconds"), parallel: try row.decode(forColumn: "parallel"),
            phase: try value(WavePhase.self, row, "phase", what), startedAt: try row.decode(forColumn: "started_at"),
            finishedAt: try row.decode(forColumn: "finished_at"))
    }

    private static func approval(_ row: Row) throws -> ApprovalRecord {
        let rolloutID: Int64 = try row.decode(forColumn: "rollout_id")
        return ApprovalRecord(
            rolloutID: rolloutID, wave: try row.decode(forColumn: "wave_index"),
            source: try value(ApprovalRecord.Source.self, row, "source", "an approval of rollout \(rolloutID)"),
            user: try row.decode(forColumn: "user"), uid: try uid(row), comment: try row.decode(forColumn: "comment"),
            planHash: try row.decode(forColumn: "plan_hash"), at: try row.decode(forColumn: "at"))
    }

    private static func hostRun(_ row: Row) throws -> HostRunRecord {
        let rolloutID: Int64 = try row.decode(forColumn: "rollout_id")
        let host: String = try row.decode(forColumn: "host")
        let what = "host run \(host) of rollout \(rolloutID)"
        let step: String? = try row.decode(forColumn: "step")
        var run = HostRunRecord(
            rolloutID: rolloutID, host: host, wave: try row.decode(forColumn: "wave_index"),
            phase: try value(HostRunPhase.self, row, "phase", what),
            step: try step.map { try parse(HostStep.self, $0, "step", what) },
            stepInFlight: try row.decode(forColumn: "step_in_flight"), previous: try row.decode(forColumn: "previous"),
            changed: try row.decode(forColumn: "changed"),
            installAttempts: try row.decode(forColumn: "install_attempts"),
            errorKind: try row.decode(forColumn: "error_kind"), error: try row.decode(forColumn: "error"),
            updatedAt: try row.decode(forColumn: "updated_at"), deferReason: try row.decode(forColumn: "defer_reason"),
            firstAttemptAt: try row.decode(forColumn: "first_attempt_at"),
            nextAttemptAt: try row.decode(forColumn: "next_attempt_at"),
            deferrals: try row.decode(forColumn: "deferrals"),
            wakeLeadSeconds: try row.decode(forColumn: "wake_lead_seconds"),
            wokenFor: try row.decode(forColumn: "woken_for"), wakes: try row.decode(forColumn: "wakes"))

        run.rebootPending = try row.decode(forColumn: "reboot_pending")
        run.exitRetries = try row.decode(forColumn: "exit_retries")
        run.rebootStartedAt = try row.decode(forColumn: "reboot_started_at")
        run.rebootWentDown = try row.decode(forColumn: "reboot_went_down")
        run.stageAttempts = try row.decode(forColumn: "stage_attempts")
        return run
    }

    private static func uid(_ row: Row) throws -> UInt32 {
        let raw: Int64 = try row.decode(forColumn: "uid")
        guard let uid = UInt32(exactly: raw) else {
            throw StoreError(kind: .corrupt, message: "cannot read a stored uid: \(raw) is not a Unix uid")
        }
        return uid
    }

    private static func value<E: RawRepresentable>(_ type: E.Type, _ row: Row, _ column: String, _ what: String)
        throws -> E where E.RawValue == String
    {
        try parse(type, try row.decode(String.self, forColumn: column), column, what)
    }

    private static func parse<E: RawRepresentable>(_ type: E.Type, _ raw: String, _ column: String, _ what: String)
        throws -> E where E.RawValue == String
    {
        guard let value = E(rawValue: raw) else {
            throw StoreError(kind: .corrupt, message: "cannot read \(what): unknown \(column) '\(raw)'")
        }
        return value
    }
}
