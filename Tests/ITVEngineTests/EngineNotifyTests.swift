import Foundation
import ITVCore
import Testing

@testable import ITVEngine

@Suite("Notifications are committed with the change that caused them")
struct EngineNotifyTests {
    static let sinks = [
        NotifySink(name: "chat", kind: .webhook, events: Set(NotifyEvent.subscribable), url: "https://x.example/"),
        NotifySink(name: "mail", kind: .email, events: [.waveWaiting], tenants: ["other"], url: "smtp://m.example"),
    ]

    @Test("rollout.started and wave.waiting are outbox rows in the transaction of the rollout change")
    func sameTransaction() async throws {
        let fleet = FakeFleet(hosts: [
            "h01": "1.0", "h02": "1.0", "h03": "1.0", "h04": "1.0", "h05": "1.0", "h06": "1.0",
        ])
        let h = try await EngineHarness(set: makeSet(window: nil), fleet: fleet)
        let waker = OutboxWaker()
        await h.engine.setNotify(sinks: Self.sinks, waker: waker)
        let id = try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let waiting = try await h.wait(id, timeout: 30) { $0.phase == .waitingApproval && $0.rollout.currentWave == 1 }
        let log = await h.store.commitLog
        func transaction(with event: NotifyEvent) -> [StoreChange]? {
            log.first { changes in
                changes.contains { if case .outbox(let r) = $0 { r.event == event.rawValue } else { false } }
            }
        }
        let started = try #require(transaction(with: .rolloutStarted))
        #expect(started.contains { if case .rollout(let r) = $0 { r.id == id } else { false } })
        let waits = try #require(transaction(with: .waveWaiting))
        #expect(
            waits.contains {
                if case .rollout(let r) = $0 { r.phase == .waitingApproval && r.currentWave == 1 } else { false }
            }, "the outbox row and the phase it announces are one transaction")
        let records = await h.store.outboxRecords
        // The mail sink wants only tenant "other": nothing for it.
        #expect(records.allSatisfy { $0.sink == "chat" })
        let message = try #require(
            records.first { $0.event == "wave.waiting" }.flatMap { NotifyMessage.decode($0.payload) })
        #expect(message.command == "itvctl rollout approve \(id)")
        #expect(message.planHash == waiting.rollout.planHash)
        #expect(message.wave == 2 && message.waveName == "pilot")
        #expect(Set(message.hosts) == Set(waiting.hostRuns.filter { $0.wave == 1 }.map(\.host)))
        #expect(message.tenants == ["t"])
        // The automatic canary wave was not "approved" by anyone: no wave.approved.
        #expect(!records.contains { $0.event == "wave.approved" })
        // Ids are unique per notification.
        #expect(Set(records.map(\.id)).count == records.count)
    }

    @Test("a crash before the commit loses the change and its notification together")
    func crashLosesBoth() async throws {
        let fleet = FakeFleet(hosts: [
            "h01": "1.0", "h02": "1.0", "h03": "1.0", "h04": "1.0", "h05": "1.0", "h06": "1.0",
        ])
        let h = try await EngineHarness(set: makeSet(), fleet: fleet)
        await h.engine.setNotify(sinks: Self.sinks, waker: nil)
        await h.store.holdCommits(true)
        let creating = Task { try await h.engine.createRollout(procedure: "app", version: "2.0", by: alice) }
        try await until { await h.store.heldCommitCount > 0 }
        await h.store.crash()
        await h.store.holdCommits(false)
        _ = try? await creating.value
        #expect(await h.store.outboxRecords.isEmpty)
        #expect(await h.store.rollouts.isEmpty)
    }
}
