import Foundation
import Testing

@testable import ITVCore

private typealias F = RolloutFixture

private let artifact = PlannedArtifact(
    name: "app-2.0.msi", size: 1_234, sha256: String(repeating: "ab", count: 32))

/// One wave of `n` hosts with an artifact, started: every host has detect in flight.
private func started(_ n: Int = 1, idempotent: Bool = false) -> RolloutDriver {
    var recipe = F.recipe(idempotent: idempotent, maxFailures: .count(10))
    recipe.artifact = artifact
    var d = RolloutDriver(F.plan([F.wave("a", n)]), recipe)
    d.send(.start)
    return d
}

@Suite("The stage step")
struct RolloutStageTests {
    @Test("with an artifact, stage runs between detect and install; without one it never runs")
    func stageBeforeInstall() {
        var d = started()
        #expect(d.finish("a1", .detect, F.ok("1.0")).steps == ["a1:stage"])
        #expect(d.run("a1").previous == "1.0" && d.run("a1").installAttempts == 0 && !d.run("a1").changed)
        #expect(d.finish("a1", .stage, F.ok("uploaded 1234 bytes")).steps == ["a1:install"])
        d.finish("a1", .install, F.ok())
        d.finish("a1", .verify, F.ok())
        #expect(d.hostPhase("a1") == .succeeded)

        var plain = RolloutDriver(F.plan([F.wave("a", 1)]), F.recipe())
        plain.send(.start)
        #expect(plain.finish("a1", .detect, F.ok("1.0")).steps == ["a1:install"])
    }

    @Test("a host that already runs the target is not staged")
    func alreadyCurrentIsNotStaged() {
        var d = started()
        #expect(d.finish("a1", .detect, F.ok("2.0")).steps.isEmpty)
        #expect(d.hostPhase("a1") == .alreadyCurrent)
    }

    @Test("a stage whose outcome is unknown is sent again, at most 3 times, then the host fails uninstalled")
    func unknownStageIsRetriedThenFails() {
        var d = started()
        d.finish("a1", .detect, F.ok("1.0"))
        #expect(d.finish("a1", .stage, F.lost).steps == ["a1:stage"])
        #expect(d.finish("a1", .stage, F.lost).steps == ["a1:stage"])
        let last = d.finish("a1", .stage, .unknown(kind: "no_exit_status", message: "dropped"))
        #expect(last.steps.isEmpty)
        #expect(d.hostPhase("a1") == .failed)
        #expect(d.run("a1").errorKind == "no_exit_status")
        #expect(!d.run("a1").changed && d.run("a1").installAttempts == 0)
        #expect(!d.log.steps.contains("a1:install"))
    }

    @Test("a retried stage that then works goes on to install; the count starts over per host")
    func retriedStageThenInstalls() {
        var d = started(2)
        d.finish("a1", .detect, F.ok("1.0"))
        d.finish("a2", .detect, F.ok("1.0"))
        d.finish("a1", .stage, F.lost)
        d.finish("a1", .stage, F.lost)
        #expect(d.finish("a1", .stage, F.ok()).steps == ["a1:install"])
        d.finish("a2", .stage, F.lost)
        d.finish("a2", .stage, F.lost)
        #expect(d.finish("a2", .stage, F.ok()).steps == ["a2:install"])
    }

    @Test(
        "a refused stage or one that exits non-zero fails the host without install",
        arguments: [
            StepResult.notRun(kind: "stage_hash_mismatch", message: "the host found another hash"),
            StepResult.notRun(kind: "artifact_missing", message: "not in the cache"),
            StepResult.exited(code: 1, stdout: "", stderr: "mkdir: Permission denied"),
        ])
    func refusedStageFails(_ result: StepResult) {
        var d = started()
        d.finish("a1", .detect, F.ok("1.0"))
        #expect(d.finish("a1", .stage, result).steps.isEmpty)
        #expect(d.hostPhase("a1") == .failed)
        #expect(!d.run("a1").changed)
        #expect(d.run("a1").error?.hasPrefix("stage") == true)
    }

    @Test("after a crash a stage in flight is sent again, never install")
    func recoverResendsStage() {
        var d = started()
        d.finish("a1", .detect, F.ok("1.0"))
        #expect(d.run("a1").step == .stage && d.run("a1").stepInFlight)
        var restarted = RolloutDriver(F.plan([F.wave("a", 1)]))
        restarted.sm = RolloutStateMachine(snapshot: d.snapshot)
        #expect(restarted.send(.recover).steps == ["a1:stage"])
        #expect(restarted.finish("a1", .stage, F.ok()).steps == ["a1:install"])
    }

    @Test("the count of stages sent is persisted: restarts go on counting, and a restart at the limit fails the host")
    func stageCountSurvivesRestarts() {
        var d = started()
        d.finish("a1", .detect, F.ok("1.0"))
        d.finish("a1", .stage, F.lost)
        #expect(d.run("a1").stageAttempts == 2)
        // A restart with the second stage in flight: the snapshot alone (what the store holds) says 2 were sent.
        var restarted = RolloutDriver(F.plan([F.wave("a", 1)]))
        restarted.sm = RolloutStateMachine(snapshot: d.snapshot)
        #expect(restarted.send(.recover).steps == ["a1:stage"])
        #expect(restarted.run("a1").stageAttempts == 3)
        // Another restart: 3 were sent, none finished: failed, install never sent.
        var again = RolloutDriver(F.plan([F.wave("a", 1)]))
        again.sm = RolloutStateMachine(snapshot: restarted.snapshot)
        #expect(again.send(.recover).steps.isEmpty)
        #expect(again.run("a1").phase == .failed && !again.run("a1").changed)
        #expect(again.run("a1").error?.hasPrefix("stage did not finish in 3 attempts, install not sent") == true)
        // A stage that finishes starts the count over.
        var ok = started()
        ok.finish("a1", .detect, F.ok("1.0"))
        ok.finish("a1", .stage, F.lost)
        ok.finish("a1", .stage, F.ok())
        #expect(ok.run("a1").stageAttempts == 0)
    }

    @Test("an install in doubt that detect cannot settle is staged again before an idempotent re-send")
    func reinstallIsStagedAgain() {
        var d = started(idempotent: true)
        d.finish("a1", .detect, F.ok("1.0"))
        d.finish("a1", .stage, F.ok())
        #expect(d.finish("a1", .install, F.lost).steps == ["a1:detect"])
        #expect(d.finish("a1", .detect, F.ok("1.0")).steps == ["a1:stage"])
        #expect(d.finish("a1", .stage, F.ok("already on the host")).steps == ["a1:install"])
        #expect(d.run("a1").installAttempts == 2)
    }

    @Test("an abort while stage is in flight stops the host before install")
    func abortDuringStage() {
        var d = started()
        d.finish("a1", .detect, F.ok("1.0"))
        d.send(.abort(by: "alice", reason: "wrong build"))
        #expect(d.finish("a1", .stage, F.ok()).steps.isEmpty)
        #expect(d.hostPhase("a1") == .skipped)
        #expect(!d.log.steps.contains("a1:install"))
    }

    @Test("the stage step is not sent again after a step-not-sent; the host waits between steps")
    func stageNotSent() {
        var d = started()
        d.finish("a1", .detect, F.ok("1.0"))
        d.send(.stepNotSent(host: "a1", step: .stage))
        #expect(!d.run("a1").stepInFlight && d.hostPhase("a1") == .running)
    }
}

@Suite("Artifact placement")
struct ArtifactPlacementTests {
    @Test("paths per OS, defaults, trailing separators, and the temporary name in the same directory")
    func paths() {
        let linux = ArtifactPlacement(os: .linux, directory: "/var/cache/itv/", name: "a.deb")
        #expect(linux.path == "/var/cache/itv/a.deb")
        #expect(
            linux.temporaryPath(sha256: String(repeating: "0f", count: 32))
                == "/var/cache/itv/.itv-stage-0f0f0f0f0f0f0f0f.part")
        let windows = ArtifactPlacement(os: .windows, directory: #"C:\ProgramData\itv\cache\"#, name: "a.msi")
        #expect(windows.path == #"C:\ProgramData\itv\cache\a.msi"#)
        #expect(ArtifactPlacement.defaultDirectory(for: .linux) == "/var/cache/itv")
        #expect(ArtifactPlacement.defaultDirectory(for: .windows) == #"C:\ProgramData\itv\cache"#)
    }

    @Test(
        "names that are not one plain file name are refused",
        arguments: [
            "", ".", "..", "../etc/passwd", "a/b", #"a\b"#, "C:x", "-rf", ".hidden", "a\nb", "a\u{7F}", "a*",
            String(repeating: "x", count: 256),
        ])
    func badNames(_ name: String) {
        #expect(ArtifactPlacement.problem(withName: name) != nil)
    }

    @Test("ordinary installer names pass", arguments: ["7z2408-x64.msi", "firefox-128.0esr.tar.bz2", "setup (1).exe"])
    func goodNames(_ name: String) {
        #expect(ArtifactPlacement.problem(withName: name) == nil)
    }

    @Test("directories must be absolute for their OS, without .. or control characters")
    func directories() {
        #expect(ArtifactPlacement.problem(withDirectory: "/srv/itv", for: .linux) == nil)
        #expect(ArtifactPlacement.problem(withDirectory: #"D:\itv cache"#, for: .windows) == nil)
        for bad in ["srv/itv", "/srv/../etc", "/srv/\u{1B}x", ""] {
            #expect(ArtifactPlacement.problem(withDirectory: bad, for: .linux) != nil, "\(bad)")
        }
        for bad in [#"\itv"#, "C:/itv", #"C:\a\..\b"#, #"C:\it's"#, "/srv/itv"] {
            #expect(ArtifactPlacement.problem(withDirectory: bad, for: .windows) != nil, "\(bad)")
        }
        #expect(ArtifactPlacement.family(ofDirectory: "/x") == .linux)
        #expect(ArtifactPlacement.family(ofDirectory: #"c:\x"#) == .windows)
        #expect(ArtifactPlacement.family(ofDirectory: "x") == nil)
    }

    @Test("the recipe keeps the artifact and the directories, and decodes recipes stored before artifacts")
    func recipe() throws {
        var recipe = F.recipe()
        #expect(recipe.artifactPlacement(for: .linux) == nil)
        recipe.artifact = artifact
        recipe.artifactDir = ["linux": "/opt/itv-host/cache"]
        #expect(recipe.artifactPlacement(for: .linux)?.path == "/opt/itv-host/cache/app-2.0.msi")
        #expect(recipe.artifactPlacement(for: .windows)?.path == #"C:\ProgramData\itv\cache\app-2.0.msi"#)
        let decoded = try JSONDecoder().decode(RolloutRecipe.self, from: JSONEncoder().encode(recipe))
        #expect(decoded == recipe)
        // A recipe stored by an itvd without artifacts has neither key, and still decodes.
        let old = try JSONEncoder().encode(F.recipe())
        #expect(!String(decoding: old, as: UTF8.self).contains("artifact"))
        #expect(try JSONDecoder().decode(RolloutRecipe.self, from: old).artifact == nil)
    }
}
