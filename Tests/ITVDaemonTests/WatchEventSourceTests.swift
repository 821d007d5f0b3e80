import ITVCore
import ITVEngine
import ITVProtocol
import Testing

@testable import ITVDaemon

@Suite struct WatchEventSourceTests {
    static func snapshot(_ phase: RolloutPhase, _ host: HostRunPhase, updated: EpochMillis) throws -> RolloutSnapshot {
        let command = StepCommand(all: try CommandTemplate.parse("true").get())
        let recipe = RolloutRecipe(
            playbook: Playbook(
                id: "p", name: "P", vendor: "V", targets: [], feed: nil,
                steps: Steps(detect: command, install: command, verify: command, rollback: nil),
                rollout: RolloutSpec(waves: []), origin: ITVCore.SourceLocation(file: "p.yaml", line: 1, column: 1)))
        return RolloutSnapshot(
            rollout: RolloutRecord(
                id: 7, procedure: "p", version: "2", phase: phase, currentWave: 0, planHash: "h", recipe: recipe,
                createdAt: 1, createdBy: "alice", updatedAt: updated),
            waves: [
                WaveRecord(
                    rolloutID: 7, index: 0, name: "all", approval: .auto, approvalsNeeded: 0, bakeSeconds: 0,
                    parallel: nil, phase: phase == .succeeded ? .done : .running)
            ],
            approvals: [],
            hostRuns: [HostRunRecord(rolloutID: 7, host: "h1", wave: 0, phase: host, updatedAt: updated)])
    }

    /// Events are made when asked for: a watcher that has not read meanwhile gets the net change since what
    /// it saw, from the newest snapshot the engine kept, not a backlog of every step in between.
    @Test func eventsAreMadeOnDemandFromTheNewestSnapshot() async throws {
        let (updates, engine) = AsyncStream.makeStream(of: RolloutSnapshot.self, bufferingPolicy: .bufferingNewest(1))
        let source = WatchEventSource(updates: updates, clock: SystemEngineClock())
        engine.yield(try Self.snapshot(.running, .pending, updated: 2))
        let first = await source.next()
        #expect(first?.kind == .snapshot)
        #expect(first?.detail?.hostRuns.first?.phase == .pending)
        // Two commits while the watcher does not read: only the newest is kept, and it is diffed against
        // the snapshot the watcher has.
        // The stream keeps the newest snapshot only, so what each yield did shows whether the source took
        // one meanwhile: the first is buffered (no one waits for it, an eager consumer would be), the second
        // replaces it unread. No sleep: the buffer's state is the proof, not a pause that hopes for it.
        let second = engine.yield(try Self.snapshot(.running, .running, updated: 3))
        guard case .enqueued = second else { Issue.record("yield: \(second)"); return }
        let third = engine.yield(try Self.snapshot(.succeeded, .succeeded, updated: 4))
        guard case .dropped(let unread) = third else {
            Issue.record("the source took a snapshot it was not asked for: \(third)")
            return
        }
        #expect(unread.rollout.updatedAt == 3)
        engine.finish()
        var rest: [ITVProtocol.RolloutEvent] = []
        while let event = await source.next() { rest.append(event) }
        #expect(rest.map(\.kind) == [.hostRun, .wave, .rollout])
        #expect(rest.first?.hostRun?.phase == .succeeded)
        #expect(rest.last?.rollout?.phase == .succeeded)
    }
}
