import Foundation
import ITVCore
import Testing

extension E2ETests {
    /// kill -9 of the built itvd at random moments of a 12-host, 3-wave rollout (loopback range 127.0.63).
    @Suite("End to end: itvd killed with SIGKILL during a rollout", .serialized)
    struct E2EKillTests {
        @Test("20 SIGKILLs during a 12-host, 3-wave rollout: it completes, no install twice, no approval lost")
        func killNineDuringRollout() async throws {
            let app = "fake-kill"
            // Non-idempotent install; every install takes 3 s, so that kills hit installs in flight.
            let playbook = try fakeAppPlaybook(
                id: app, waves: threeWaves(["operator", "operator", "operator"], parallel: [nil, 2, 1]),
                idempotent: false)
            let seed =
                UInt64(ProcessInfo.processInfo.environment["ITV_E2E_SEED"] ?? "")
                ?? UInt64(Date().timeIntervalSince1970 * 1000)
            var random = SplitMix64(seed: seed)
            let seedNote = "seed \(seed) (ITV_E2E_SEED=\(seed) repeats it)"
            print("kill -9 test: \(seedNote)")
            try await E2EFleet.with(12, base: "127.0.63") { fleet in
                for host in fleet.hostNames {
                    try fleet.setVersion(host, app, "1.0")
                    try fleet.marker(host, "slow-\(app)", "3")
                }
                try await E2EDaemon.with(fleet: fleet, playbooks: [app: playbook]) { itvd in
                    let rid = try itvd.startRollout(app, "2.0")
                    var approvals: [E2ERollout.Approval] = []
                    var kills = 0
                    var retries = 0
                    var resumes = 0
                    var pauses = 0
                    // Approving wave k only after some kills spreads the 20 kills over the three waves.
                    let approveAfter = [0, 4, 10]
                    let deadline = Date().addingTimeInterval(600)
                    var detail = try itvd.show(rid)
                    let final = ["succeeded", "failed", "rolled_back", "aborted"]
                    while !final.contains(detail.phase) {
                        guard Date() < deadline else {
                            throw E2EFailure(
                                description:
                                    "no end after \(kills) kills (\(seedNote)): \(detail.summary)\n\(itvd.logTail())")
                        }
                        try await Task.sleep(for: .milliseconds(Int.random(in: 50...2500, using: &random)))
                        detail = try itvd.show(rid)
                        // The operator: approves the waiting wave, retries hosts left unknown once their install ended.
                        if detail.phase == "waiting_approval", kills >= approveAfter[detail.rollout.currentWave] {
                            try itvd.ok(["rollout", "approve", String(rid), "--comment", "kill test \(kills)"])
                            detail = try itvd.show(rid)
                            approvals = detail.approvals.filter { $0.source == "operator" }
                        }
                        var settled = true
                        for run in detail.hostRuns where run.phase == "unknown" || run.phase == "failed" {
                            if fleet.busy(run.host, app) {
                                settled = false
                            } else {
                                try itvd.ok(["rollout", "retry", String(rid), "--host", run.host])
                                retries += 1
                            }
                        }
                        // An unknown outcome counts as a failure: the wave halts until the operator resumes it.
                        if detail.phase == "halted", settled {
                            try itvd.ok(["rollout", "resume", String(rid)])
                            resumes += 1
                        }
                        // A fast machine could finish before the 20th kill: the operator pauses the last wave
                        // before its last host (hosts in flight finish) until then.
                        let lastPending = detail.waves[2].hosts.filter { detail.run($0)?.phase == "pending" }.count
                        if kills < 20, detail.phase == "running", detail.rollout.currentWave == 2, lastPending <= 1 {
                            try itvd.ok(["rollout", "pause", String(rid), "--reason", "kill test holds"])
                            pauses += 1
                        } else if kills >= 20, detail.phase == "paused" {
                            try itvd.ok(["rollout", "resume", String(rid)])
                            resumes += 1
                        }
                        detail = try itvd.show(rid)
                        print("kill -9 test: kill \(kills), \(detail.summary)")
                        if kills < 20, !final.contains(detail.phase) {
                            let before = detail
                            itvd.kill9()
                            kills += 1
                            try await itvd.start()
                            detail = try itvd.show(rid)
                            let kept = detail.approvals.filter { $0.source == "operator" }
                            #expect(
                                approvals.allSatisfy { kept.contains($0) },
                                "approvals lost in kill \(kills) (\(seedNote)): had \(approvals), now \(kept)")
                            if before.phase == "paused" {
                                #expect(detail.phase == "paused", "a pause is durable: \(detail.summary)")
                            }
                        }
                    }
                    #expect(kills == 20, "the rollout ended after \(kills) kills, \(seedNote)")
                    #expect(detail.phase == "succeeded", "\(seedNote): \(detail.summary)")
                    #expect(
                        detail.approvals.filter { $0.source == "operator" }.map(\.wave) == [0, 1, 2], "\(seedNote)")
                    for host in fleet.hostNames {
                        #expect(fleet.version(host, app) == "2.0", "\(host), \(seedNote)")
                        #expect(
                            fleet.installs(host, app, of: "2.0") == 1,
                            "\(host) installed \(fleet.installs(host, app, of: "2.0")) times: \(fleet.ledger(host, app)), \(seedNote)"
                        )
                        #expect(detail.run(host)?.phase == "succeeded", "\(seedNote): \(detail.summary)")
                    }
                    print(
                        "kill -9 test: \(kills) kills, \(retries) operator retries, \(pauses) pauses, "
                            + "\(resumes) resumes, \(seedNote)")

                    // A second itvd on the same state directory is refused with a clear message (exit 75,
                    // EX_TEMPFAIL: the directory may be free later).
                    let second = try runProgram(
                        binDir + "/itvd", ["run", "--config", itvd.config, "--log", "stderr"], timeout: 60)
                    #expect(second.status == 75)
                    #expect(second.stderr.contains("another itvd"), "\(second.stderr)")
                    #expect(second.stderr.contains("is using the state directory"), "\(second.stderr)")
                    if let pid = itvd.pid { #expect(second.stderr.contains(String(pid)), "\(second.stderr)") }
                    #expect(try itvd.ctl(["status"]).status == 0, "the first itvd still answers")
                }
            }
        }
    }
}
