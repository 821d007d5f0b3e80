import ITVProtocol
import Testing

@Suite("Events between two snapshots")
struct EventDiffTests {
    @Test("no change, no event")
    func unchanged() {
        #expect(Samples.detail.events(since: Samples.detail, at: 1).isEmpty)
    }

    @Test("changes become events, the rollout's last; applying them gives the new snapshot")
    func changes() {
        var next = Samples.detail
        next.hostRuns[2].phase = .succeeded
        next.waves[1].phase = .running
        next.approvals.append(
            ApprovalInfo(wave: 1, source: .operator, user: "bob", uid: 1002, planHash: Samples.hash, at: 9))
        next.rollout.phase = .running
        let events = next.events(since: Samples.detail, at: 9)
        #expect(events.map(\.kind) == [.approval, .hostRun, .wave, .rollout])
        #expect(events.last?.rolloutPhase == .running)
        #expect(events[1].hostRun?.host == "ws-fin-02")

        // A watcher that starts from the old snapshot and applies the events sees the new one.
        var seen = Samples.detail
        for event in events {
            switch event.kind {
            case .snapshot: if let d = event.detail { seen = d }
            case .rollout: if let r = event.rollout { seen.rollout = r }
            case .wave: if let w = event.wave { seen.waves[w.index] = w }
            case .hostRun:
                if let h = event.hostRun, let i = seen.hostRuns.firstIndex(where: { $0.host == h.host }) {
                    seen.hostRuns[i] = h
                }
            case .approval: if let a = event.approval { seen.approvals.append(a) }
            }
        }
        #expect(seen == next)
    }
}
