import Foundation
import ITVCore
import ITVEngine
import Testing

@Suite struct AutoPlanTests {
    func playbook(autoPlan: Bool, minAge: Int64, feed: Bool = true) throws -> Playbook {
        let step = StepCommand(all: try CommandTemplate.parse("true").get())
        return Playbook(
            id: "app", name: "App", vendor: "V", targets: [],
            feed: feed ? FeedSpec(kind: .atom, url: "https://v.example/f", minAge: TimeSpan(seconds: minAge)) : nil,
            steps: Steps(detect: step, install: step, verify: step, rollback: nil),
            rollout: RolloutSpec(autoPlan: autoPlan, waves: [WaveSpec(name: "all", size: .rest)]),
            origin: SourceLocation(file: "app.yaml", line: 1, column: 1))
    }

    let seen = ReleaseRecord(procedure: "app", version: "2.0", firstSeen: 1_800_000_000_000, feedURL: "x")
    var firstSeen: EpochMillis { 1_800_000_000_000 }

    @Test func plansOnlyWhenAskedAndOldEnough() throws {
        #expect(AutoPlan.decide(try playbook(autoPlan: false, minAge: 0), release: seen, now: firstSeen) == .never)
        #expect(
            AutoPlan.decide(try playbook(autoPlan: true, minAge: 0, feed: false), release: seen, now: firstSeen)
                == .never)
        #expect(AutoPlan.decide(try playbook(autoPlan: true, minAge: 0), release: seen, now: firstSeen) == .now)
        let twoDays = try playbook(autoPlan: true, minAge: 172_800)
        #expect(AutoPlan.decide(twoDays, release: seen, now: firstSeen) == .at(firstSeen + 172_800_000))
        #expect(AutoPlan.decide(twoDays, release: seen, now: firstSeen + 172_800_000) == .now)
    }
}
