import ITVCore
import ITVTestSupport
import Logging
import Testing

@testable import ITVEngine

/// An executor whose every host presents a key other than the pinned one.
private struct ChangedKeyExecutor: RemoteExecutor {
    func connect(to host: RemoteHost) async -> Result<any RemoteSession, RemoteConnectError> {
        .failure(RemoteConnectError(.hostkeyMismatch(expected: "SHA256:pinned", presented: "SHA256:other")))
    }
}

@Suite struct EngineJournalTests {
    /// A started engine on `store` whose every log line lands in `records`, for the time of `body`.
    private func withEngine(
        store: MemoryStore, records: LogRecords, _ body: (RolloutEngine) async throws -> Void
    ) async throws {
        let engine = RolloutEngine(
            set: makeSet(window: nil), store: await store.handle(), executor: ChangedKeyExecutor(),
            clock: InstantClock(), logger: Logger(label: "test") { _ in RecordingLogHandler(records: records) })
        let loop = Task { await engine.run() }
        defer { loop.cancel() }
        try await engine.start()
        try await body(engine)
    }

    @Test("a changed host key is journaled once, by the executor: the engine only records it on the host run")
    func hostKeyMismatchIsNotJournaledTwice() async throws {
        let records = LogRecords()
        try await withEngine(store: MemoryStore(), records: records) { engine in
            let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
            let refused = await eventually(timeout: .seconds(120)) {
                (try? await engine.snapshot(id).run("h01")?.errorKind) == "hostkey_mismatch"
            }
            #expect(refused, "the canary host did not record the mismatch")
        }
        // The adapter that compared the keys writes the one critical line with both fingerprints
        // (HostKeyTests); a second line from the engine would double every alert on it.
        #expect(records.with(event: ITVEvent.hostKeyMismatch.rawValue).isEmpty)
    }

    @Test("an audit record that cannot be written is journaled (store.failed), not dropped")
    func failedAuditWriteIsLogged() async throws {
        let records = LogRecords()
        let store = MemoryStore()
        try await withEngine(store: store, records: records) { engine in
            await store.crash()
            await engine.recordAuditOrLog(
                AuditRecord(
                    at: 1, user: "alice", uid: 1001, action: "reload", target: "playbooks and inventory",
                    outcome: "ok"))
        }
        let failed = records.with(event: ITVEvent.storeFailed.rawValue)
        #expect(failed.contains { $0.message.contains("audit record not written") && $0.metadata["user"] == "alice" })
        #expect(await store.auditLog.isEmpty)
    }
}
