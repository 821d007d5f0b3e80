import ITVControlServer
import ITVCore
import ITVProtocol
import Testing

@Suite("Records map onto the wire with the same raw values")
struct WireMappingTests {
    @Test("every persisted phase, step and kind keeps its raw value on the wire")
    func rawValues() {
        for p in RolloutPhase.allCases { #expect(RolloutInfo.Phase(p).rawValue == p.rawValue) }
        for p in WavePhase.allCases { #expect(WaveInfo.Phase(p).rawValue == p.rawValue) }
        for p in HostRunPhase.allCases { #expect(HostRunInfo.Phase(p).rawValue == p.rawValue) }
        for s in HostStep.allCases { #expect(HostRunInfo.Step(s).rawValue == s.rawValue) }
        for k in ApprovalKind.allCases { #expect(ApprovalKindInfo(k).rawValue == k.rawValue) }
        for s in [ApprovalRecord.Source.operator, .window, .auto] {
            #expect(ApprovalInfo.Source(s).rawValue == s.rawValue)
        }
        #expect(RolloutInfo.Phase.allCases.count == RolloutPhase.allCases.count)
        #expect(HostRunInfo.Phase.allCases.count == HostRunPhase.allCases.count)
        for p in RolloutPhase.allCases {
            #expect(RolloutInfo.Phase(p).isFinal == p.isFinal)
            #expect(RolloutInfo.Phase(p).waitsForPerson == p.waitsForPerson)
        }
    }

    @Test("a snapshot becomes a detail: wave hosts, counted approvals for the current plan only, host counts")
    func snapshot() throws {
        let command = StepCommand(all: try CommandTemplate.parse("true").get())
        let playbookless = RolloutRecipe(
            playbook: Playbook(
                id: "p", name: "P", vendor: "V", targets: [], feed: nil,
                steps: Steps(
                    detect: command, install: command, verify: command, rollback: nil),
                rollout: RolloutSpec(waves: []), origin: SourceLocation(file: "p.yaml", line: 1, column: 1)))
        let rollout = RolloutRecord(
            id: 3, procedure: "p", version: "2", phase: .waitingApproval, currentWave: 1, planHash: "new",
            recipe: playbookless, createdAt: 1, createdBy: "alice", updatedAt: 2)
        let snapshot = RolloutSnapshot(
            rollout: rollout,
            waves: [
                WaveRecord(
                    rolloutID: 3, index: 0, name: "a", approval: .auto, approvalsNeeded: 0, bakeSeconds: 0,
                    parallel: nil, phase: .done),
                WaveRecord(
                    rolloutID: 3, index: 1, name: "b", approval: .operator, approvalsNeeded: 2, bakeSeconds: 60,
                    parallel: 5, phase: .waitingApproval),
            ],
            approvals: [
                ApprovalRecord(
                    rolloutID: 3, wave: 1, source: .operator, user: "alice", uid: 1001, comment: nil,
                    planHash: "new", at: 5),
                ApprovalRecord(
                    rolloutID: 3, wave: 1, source: .operator, user: "bob", uid: 1002, comment: nil,
                    planHash: "old", at: 4),
            ],
            hostRuns: [
                HostRunRecord(rolloutID: 3, host: "h1", wave: 0, phase: .succeeded, updatedAt: 3),
                HostRunRecord(rolloutID: 3, host: "h2", wave: 1, updatedAt: 3),
                HostRunRecord(rolloutID: 3, host: "h3", wave: 1, updatedAt: 3),
            ])
        let detail = RolloutDetail(snapshot)
        #expect(detail.rollout.phase == .waitingApproval)
        #expect(detail.rollout.waveCount == 2)
        #expect(detail.rollout.hostCounts == ["succeeded": 1, "pending": 2])
        #expect(detail.waves[1].hosts == ["h2", "h3"])
        #expect(detail.waves[1].approvalsGiven == 1)
        #expect(detail.waves[1].parallel == 5)
        #expect(detail.approvals.count == 2)
    }
}
