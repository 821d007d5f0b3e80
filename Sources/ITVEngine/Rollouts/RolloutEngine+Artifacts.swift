import ITVCore
import Logging

// Artifacts (`artifact:` playbooks): a release is planned only with its verified installer, whose name, size
// and SHA-256 become part of the plan and its hash. The engine keeps each release's record (verified or
// rejected) in the store and in memory; the `ArtifactSource` port downloads and verifies.
extension RolloutEngine {
    static func artifactKey(_ procedure: String, _ version: String) -> String { procedure + "\u{0}" + version }

    /// Connects the artifact source (the daemon's libcurl/OpenSSL/gpgv one) and loads the records kept in
    /// the store. Call before `start()`.
    public func attachArtifacts(_ source: any ArtifactSource) async throws {
        artifactSource = source
        for record in try await store.artifacts() {
            artifactRecords[Self.artifactKey(record.procedure, record.version)] = record
        }
    }

    /// Every artifact record, by procedure, then time.
    public func artifactList() -> [ArtifactRecord] {
        artifactRecords.values.sorted { ($0.procedure, $0.at, $0.version) < ($1.procedure, $1.at, $1.version) }
    }

    /// The verified artifact of a release, if its playbook has `artifact:` and it is verified.
    public func artifact(procedure: String, version: String) -> PlannedArtifact? {
        guard set.playbooks.first(where: { $0.id == procedure })?.artifact != nil,
            let record = artifactRecords[Self.artifactKey(procedure, version)]
        else { return nil }
        return try? Self.planned(record)
    }

    /// The artifact a plan of `playbook` at `version` carries, from the record kept: nil for a playbook without
    /// `artifact:`; `artifact_rejected` for a rejected release; `unavailable` while none is verified.
    func plannedArtifact(_ playbook: Playbook, _ version: String) throws -> PlannedArtifact? {
        guard playbook.artifact != nil else { return nil }
        guard let record = artifactRecords[Self.artifactKey(playbook.id, version)] else {
            throw EngineError(
                .unavailable,
                "the artifact of \(playbook.id) \(version) has not been downloaded and verified yet; try again shortly")
        }
        return try Self.planned(record)
    }

    static func planned(_ record: ArtifactRecord) throws -> PlannedArtifact {
        guard record.state == .verified, let size = record.size, let sha256 = record.sha256 else {
            throw EngineError(.artifactRejected, rejectionMessage(record))
        }
        return PlannedArtifact(name: record.name, size: size, sha256: sha256)
    }

    static func rejectionMessage(_ r: ArtifactRecord) -> String {
        var text = "release \(r.version) of \(r.procedure) is rejected: its artifact \(r.url) failed verification"
        text += " (\(r.rejection ?? "rejected")): \(r.message ?? "")"
        if let expected = r.expected, let actual = r.actual {
            text += "; expected SHA-256 \(expected), actual \(actual)"
        }
        return text + "; nothing can be planned or started for it"
    }

    /// Makes sure the artifact of `procedure` `version` is verified now: asks the source (which fetches the
    /// checksum document again, and downloads only bytes it does not hold), records the outcome, and throws
    /// `artifact_rejected` or `unavailable` when there is nothing to plan with. Concurrent callers for one
    /// release share one attempt.
    @discardableResult
    public func prepareArtifact(procedure: String, version: String) async throws -> PlannedArtifact? {
        let playbook = try self.playbook(procedure)
        guard let spec = playbook.artifact else { return nil }
        guard let source = artifactSource else {
            throw EngineError(.unavailable, "this itvd has no artifact cache; \(procedure) needs one")
        }
        let key = Self.artifactKey(procedure, version)
        // A rejected release is looked at again at most once an hour (the vendor may fix it), not at every
        // plan: its bad bytes are never cached, so each look downloads them again.
        if let record = artifactRecords[key], record.state == .rejected,
            clock.now() - record.at < Self.rejectedRecheckMillis
        {
            throw EngineError(.artifactRejected, Self.rejectionMessage(record))
        }
        // One attempt per release at a time: it downloads, verifies AND records, so that every caller that
        // waited for it finds the record in place when it plans.
        let task: Task<ArtifactOutcome, any Error>
        if let running = artifactAttempts[key] {
            task = running
        } else {
            let request = ArtifactRequest(procedure: procedure, version: version, spec: spec)
            task = Task { try await self.attemptArtifact(request, source: source) }
            artifactAttempts[key] = task
        }
        let outcome = try await task.value
        switch outcome {
        case .verified(let artifact): return artifact.planned
        case .rejected:
            guard let record = artifactRecords[key] else { throw EngineError(.artifactRejected, "\(outcome)") }
            throw EngineError(.artifactRejected, Self.rejectionMessage(record))
        case .failed(let error):
            throw EngineError(
                .unavailable,
                "cannot download the artifact of \(procedure) \(version) now (\(error)); itvd tries again later")
        }
    }

    /// Obtains, then records; the attempt is over (a later caller starts a new one) once it is recorded.
    private func attemptArtifact(_ request: ArtifactRequest, source: any ArtifactSource) async throws
        -> ArtifactOutcome
    {
        let key = Self.artifactKey(request.procedure, request.version)
        defer { artifactAttempts[key] = nil }
        var request = request
        if case .feed = request.spec.checksums {
            // sha256_from_feed: the digest kept with the release when its feed entry announced it.
            request.feedSHA256 = try await store.releases(procedure: request.procedure).first {
                $0.version == request.version
            }?.feedSHA256
        }
        let outcome = await source.obtain(request)
        try await record(outcome, procedure: request.procedure, version: request.version, spec: request.spec)
        return outcome
    }

    /// Persists and journals one attempt's outcome; a changed or rejected artifact voids the approvals of the
    /// release's active rollout (its plan hash changes).
    private func record(_ outcome: ArtifactOutcome, procedure: String, version: String, spec: ArtifactSpec)
        async throws
    {
        let key = Self.artifactKey(procedure, version)
        let old = artifactRecords[key]
        let url = spec.url(for: version)
        let meta: Logger.Metadata = ["procedure": "\(procedure)", "version": "\(version)", "url": "\(url)"]
        var record: ArtifactRecord
        switch outcome {
        case .failed(let error):
            let attempt = (artifactFailures[key] ?? 0) + 1
            artifactFailures[key] = attempt
            let delay = Self.retryDelay(attempt: attempt)
            logger.warning(
                "cannot download the artifact of \(procedure) \(version): \(error); trying again in \(delay) s",
                metadata: meta.merging(["event": "\(ITVEvent.artifactFailed.rawValue)"]) { $1 })
            scheduleArtifactRetry(procedure: procedure, version: version, after: delay)
            return
        case .verified(let a):
            artifactFailures[key] = nil
            record = ArtifactRecord(
                procedure: procedure, version: version, url: url, state: .verified, name: a.name, size: a.size,
                sha256: a.sha256, verifiedBy: a.verifiedBy, at: clock.now())
            if let old, old.state == .verified, old.sha256 == a.sha256, old.name == a.name, old.size == a.size {
                return  // nothing new: the same bytes as before
            }
            if let old, old.state == .verified {
                let text =
                    "the artifact of \(procedure) \(version) changed: \(url) now has SHA-256 \(a.sha256) "
                    + "(\(a.size) bytes), it had \(old.sha256 ?? "?") (\(old.size ?? 0) bytes); the vendor "
                    + "replaced the file under the same version; approvals of its rollout no longer count"
                logger.critical(
                    "\(text)",
                    metadata: meta.merging(
                        [
                            "event": "\(ITVEvent.artifactChanged.rawValue)", "sha256": "\(a.sha256)",
                            "previous_sha256": "\(old.sha256 ?? "")",
                        ]) { $1 })
            } else {
                let text =
                    "artifact of \(procedure) \(version) verified: \(a.name), \(a.size) bytes, SHA-256 \(a.sha256), "
                    + "by \(a.verifiedBy)\(a.downloaded ? "" : " (already in the cache)")"
                logger.notice(
                    "\(text)",
                    metadata: meta.merging(
                        ["event": "\(ITVEvent.artifactVerified.rawValue)", "sha256": "\(a.sha256)"]) { $1 })
            }
        case .rejected(let r):
            artifactFailures[key] = nil
            record = ArtifactRecord(
                procedure: procedure, version: version, url: url, state: .rejected, name: spec.fileName(for: version),
                rejection: r.kind, message: r.message, expected: r.expected, actual: r.actual, at: clock.now())
            // Rejected before for the same reason: journaled then; the record's time is renewed (the next look
            // at it is an hour from now).
            if !(old.map { Self.sameRejection($0, record) } ?? false) {
                var fields = meta.merging(
                    ["event": "\(ITVEvent.artifactRejected.rawValue)", "reason": "\(r.kind)"]) { $1 }
                if let e = r.expected { fields["expected_sha256"] = "\(e)" }
                if let a = r.actual { fields["actual_sha256"] = "\(a)" }
                logger.critical("\(Self.rejectionMessage(record))", metadata: fields)
            }
        }
        artifactRecords[key] = record
        // artifact.rejected goes out in the transaction that records the rejection, once per distinct refusal.
        var changes: [StoreChange] = [.artifact(record)]
        if record.state == .rejected, !(old.map { Self.sameRejection($0, record) } ?? false) {
            changes += rejectedNotification(record)
        }
        try await persist(changes, actions: [])
        if case .verified(let a) = outcome, a.downloaded { trimArtifactCache() }
        for id in machines.keys.sorted() {
            guard let rollout = machines[id]?.rollout, rollout.procedure == procedure, rollout.version == version,
                let hash = currentPlanHash(for: id), hash != rollout.planHash
            else { continue }
            let text =
                "rollout \(id): the artifact of \(procedure) \(version) is not the one planned; the plan changed "
                + "and approvals given for it no longer count"
            logger.warning(
                "\(text)",
                metadata: meta.merging(["rollout": "\(id)", "event": "\(ITVEvent.artifactChanged.rawValue)"]) { $1 })
            _ = try? await apply(id, .planChanged(hash: hash))
        }
    }

    /// Rejected before for the same reason (and the same digests): journaled and notified then.
    static func sameRejection(_ old: ArtifactRecord, _ new: ArtifactRecord) -> Bool {
        old.state == .rejected && new.state == .rejected && old.rejection == new.rejection
            && old.expected == new.expected && old.actual == new.actual
    }

    /// The `artifact.rejected` outbox records of a rejected release: for the tenants of the procedure's hosts.
    func rejectedNotification(_ record: ArtifactRecord) -> [StoreChange] {
        guard !notifySinks.isEmpty else { return [] }
        let targets = set.playbooks.first { $0.id == record.procedure }?.targets.map(\.value) ?? []
        let message = NotifyMessage(
            event: .artifactRejected, at: clock.now(),
            tenants: tenants(of: set.inventory.hosts(forTargets: targets).map(\.name)), procedure: record.procedure,
            version: record.version, message: Self.rejectionMessage(record),
            command: "itvctl artifact list --procedure \(record.procedure)")
        return OutboxRecord.records(message, sinks: notifySinks, at: clock.now())
    }

    /// The digests the cache must keep: the artifacts of active rollouts, and of the newest 3 verified
    /// releases of each procedure (by when they were verified).
    func artifactsToKeep() -> Set<String> { Set(artifactKeepReasons().keys) }

    /// Why each kept digest is kept: `rollout N` (the lowest id of the active rollouts using it), else
    /// `newest 3`.
    public func artifactKeepReasons() -> [String: String] {
        var keep: [String: String] = [:]
        for (id, machine) in machines.sorted(by: { $0.key > $1.key }) where !machine.rollout.phase.isFinal {
            if let sha = artifactRecords[Self.artifactKey(machine.rollout.procedure, machine.rollout.version)]?.sha256 {
                keep[sha] = "rollout \(id)"
            }
        }
        let verified = artifactRecords.values.filter { $0.state == .verified && $0.sha256 != nil }
        for (_, records) in Dictionary(grouping: verified, by: \.procedure) {
            for r in records.sorted(by: { ($0.at, $0.version) > ($1.at, $1.version) }).prefix(3) {
                if let sha = r.sha256, keep[sha] == nil { keep[sha] = "newest 3" }
            }
        }
        return keep
    }

    /// The cache as `itvctl artifact list` shows it: the records (of one procedure, or all), whether each
    /// verified file is in the cache, why it is kept, and the bytes the cache holds against `max_bytes`. The
    /// cache directory is listed once (`cachedSizes`), not looked at per record.
    public func artifactCache(procedure: String?) -> ArtifactCacheView {
        let records = artifactList().filter { procedure == nil || $0.procedure == procedure }
        let reasons = artifactKeepReasons()
        let files = artifactSource?.cachedSizes() ?? [:]
        let entries = records.map { r in
            let cached = r.sha256.map { files[$0] != nil } ?? false
            return ArtifactCacheView.Entry(
                record: r, cached: cached, keptBecause: cached ? r.sha256.flatMap { reasons[$0] } : nil)
        }
        return ArtifactCacheView(
            entries: entries, bytes: files.values.reduce(0, +), maxBytes: set.config.artifacts.maxBytes)
    }

    /// Trims the cache to `artifacts.max_bytes` after a download, keeping `artifactsToKeep()`.
    func trimArtifactCache() {
        guard let source = artifactSource else { return }
        let maxBytes = set.config.artifacts.maxBytes
        let (removed, bytes) = source.trim(maxBytes: maxBytes, keep: artifactsToKeep())
        guard !removed.isEmpty else { return }
        let text =
            "artifact cache trimmed to \(bytes) bytes (max_bytes \(maxBytes)): removed \(removed.count) file(s), "
            + "oldest first: \(removed.map { String($0.prefix(16)) }.joined(separator: ", "))"
        logger.notice("\(text)")
    }

    /// How long a rejection stands before the release's artifact is looked at again: one hour.
    static let rejectedRecheckMillis: EpochMillis = 3_600_000

    /// 1 min, doubling, at most 6 h (as a broken feed).
    static func retryDelay(attempt: Int) -> Int64 {
        min(6 * 3_600, 60 * (Int64(1) << Int64(min(max(attempt - 1, 0), 9))))
    }

    private func scheduleArtifactRetry(procedure: String, version: String, after seconds: Int64) {
        let key = Self.artifactKey(procedure, version)
        guard artifactRetries[key] == nil else { return }
        artifactRetries[key] = Task { [weak self] in
            try? await Task.sleep(for: .seconds(seconds))
            guard !Task.isCancelled, let self else { return }
            await self.retryArtifact(procedure: procedure, version: version)
        }
    }

    private func retryArtifact(procedure: String, version: String) async {
        artifactRetries[Self.artifactKey(procedure, version)] = nil
        guard !stopping, set.playbooks.contains(where: { $0.id == procedure && $0.artifact != nil }) else { return }
        _ = try? await prepareArtifact(procedure: procedure, version: version)
    }
}
