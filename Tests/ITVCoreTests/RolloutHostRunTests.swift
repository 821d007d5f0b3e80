import Testing

@testable import ITVCore

private typealias F = RolloutFixture

/// One wave of `n` hosts that tolerates failures, started: every host has detect in flight.
private func started(
    _ n: Int = 1, idempotent: Bool = false, window: String? = nil
) -> RolloutDriver {
    var d = RolloutDriver(
        F.plan([F.wave("a", n), F.wave("b", 1, .operator)]),
        F.recipe(idempotent: idempotent, maxFailures: .count(10), window: window))
    d.send(.start)
    return d
}

@Test func detectFindingNothingInstallsWithNoPrevious() {
    var d = started()
    let actions = d.finish("a1", .detect, F.ok(""))
    #expect(actions.steps == ["a1:install"])
    #expect(actions.contains(.recordHostVersion(host: "a1", version: nil)))
    #expect(d.run("a1").previous == nil && d.run("a1").installAttempts == 1)
    d.finish("a1", .install, F.ok())
    #expect(d.run("a1").changed)
    let done = d.finish("a1", .verify, F.ok())
    #expect(d.hostPhase("a1") == .succeeded)
    #expect(done.contains(.releaseHost(host: "a1")))
    #expect(done.contains(.recordHostVersion(host: "a1", version: F.target)))
    #expect(done.notices.contains(.hostSucceeded(host: "a1", alreadyCurrent: false)))
}

@Test func detectFindingTheTargetIsAlreadyCurrentAndInstallsNothing() {
    var d = started()
    let actions = d.finish("a1", .detect, F.ok("2.0.0\n"))  // equal under the dotted scheme
    #expect(actions.steps.isEmpty)
    #expect(d.hostPhase("a1") == .alreadyCurrent)
    #expect(!d.run("a1").changed && d.run("a1").installAttempts == 0)
    #expect(actions.notices.contains(.hostSucceeded(host: "a1", alreadyCurrent: true)))
}

@Test func detectFindingAnOlderVersionRecordsItAsPrevious() {
    var d = started()
    d.finish("a1", .detect, F.ok("  1.9.3  \n"))
    #expect(d.run("a1").previous == "1.9.3")
    #expect(d.run("a1").step == .install && d.run("a1").stepInFlight)
}

/// Windows hosts (PowerShell over OpenSSH) end their lines with CR LF.
@Test func detectOutputWithCRLFLineEndsIsAVersion() {
    var d = started()
    #expect(d.finish("a1", .detect, F.ok("1.9.3\r\n")).steps == ["a1:install"])
    #expect(d.run("a1").previous == "1.9.3")
    var e = started()
    e.finish("a1", .detect, F.ok("2.0\r\n"))
    #expect(e.hostPhase("a1") == .alreadyCurrent)
}

@Test(arguments: [
    "1.2;reboot", "1.2 && reboot", "\u{1B}[31m1.2\u{1B}[0m", "$(reboot)", "1.2\u{202E}", "`id`", "1.2\u{0}",
    "\u{1B}]0;owned\u{07}",
])
func hostileDetectOutputFailsTheHostAndInstallsNothing(_ output: String) {
    var d = started()
    let actions = d.finish("a1", .detect, F.ok(output))
    #expect(actions.steps.isEmpty)
    #expect(d.hostPhase("a1") == .failed)
    #expect(d.run("a1").errorKind == "bad_detect_output")
    #expect(!d.run("a1").changed && d.run("a1").previous == nil && d.run("a1").installAttempts == 0)
    let hostile = actions.notices.contains {
        if case .hostileOutput(host: "a1", _) = $0 { return true }
        return false
    }
    #expect(hostile)
    // What operators read never carries the raw control characters.
    let texts = [d.run("a1").error ?? ""] + actions.notices.map { "\($0)" }
    for text in texts {
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{202E}" }, "\(text)")
    }
}

@Test func detectExitingNonZeroFailsTheHost() {
    var d = started()
    d.finish("a1", .detect, F.exit(3, "dpkg-query: no packages found"))
    #expect(d.hostPhase("a1") == .failed && d.run("a1").errorKind == "exit_status")
    #expect(d.run("a1").error?.contains("exited 3") == true)
    #expect(d.run("a1").error?.contains("no packages found") == true)
}

@Test func installExitingNonZeroFailsTheHostAndMarksItChanged() {
    var d = started()
    d.finish("a1", .detect, F.ok(F.old))
    let actions = d.finish("a1", .install, F.exit(100, "E: broken"))
    #expect(actions.steps.isEmpty)
    #expect(d.hostPhase("a1") == .failed && d.run("a1").errorKind == "exit_status")
    #expect(d.run("a1").changed)  // it may have changed the host: a rollback includes it
    #expect(actions.contains(.releaseHost(host: "a1")))
}

@Test func verifyExitingNonZeroFailsTheHost() {
    var d = started()
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.ok())
    let actions = d.finish("a1", .verify, F.exit(1))
    #expect(d.hostPhase("a1") == .failed && d.run("a1").errorKind == "verify_failed")
    #expect(!actions.contains(.recordHostVersion(host: "a1", version: F.target)))
}

/// At detect (the first contact) a connect failure defers the host instead: RolloutDeferralTests.
@Test(arguments: [HostStep.detect, .install, .verify])
func aStepThatWasNotSentFailsTheHostWithItsKind(_ step: HostStep) {
    var d = started()
    if step != .detect { d.finish("a1", .detect, F.ok(F.old)) }
    if step == .verify { d.finish("a1", .install, F.ok()) }
    let actions = d.finish("a1", step, F.notRun)
    #expect(actions.steps.isEmpty)
    #expect(d.run("a1").errorKind == "connect_failed")
    #expect(!d.run("a1").stepInFlight)
    switch step {
    case .detect:
        #expect(d.hostPhase("a1") == .deferred)
        #expect(!d.run("a1").changed && d.run("a1").installAttempts == 0)
    case .install:
        #expect(d.hostPhase("a1") == .failed)
        #expect(!d.run("a1").changed && d.run("a1").installAttempts == 0)
    default:
        // Install ran; whether it works is not known.
        #expect(d.hostPhase("a1") == .unknown)
    }
}

@Test func unknownInstallSettledByDetectFindingTheTargetGoesOnToVerify() {
    for idempotent in [false, true] {
        var d = started(idempotent: idempotent)
        d.finish("a1", .detect, F.ok(F.old))
        #expect(d.finish("a1", .install, F.lost).steps == ["a1:detect"])
        #expect(d.run("a1").changed)
        #expect(d.finish("a1", .detect, F.ok(F.target)).steps == ["a1:verify"])
        #expect(d.run("a1").previous == F.old)  // the version from before the install stays
        d.finish("a1", .verify, F.ok())
        #expect(d.hostPhase("a1") == .succeeded)
        #expect(d.run("a1").installAttempts == 1)
    }
}

@Test func unknownIdempotentInstallIsSentAgainAtMostMaxAttemptsTimes() {
    var d = started(idempotent: true)
    d.finish("a1", .detect, F.ok(F.old))
    var installs = 1
    for _ in 0..<10 where d.hostPhase("a1") == .running {
        d.finish("a1", .install, F.lost)
        let next = d.finish("a1", .detect, F.ok(F.old))
        installs += next.steps.filter { $0 == "a1:install" }.count
    }
    #expect(installs == RolloutStateMachine.maxInstallAttempts)
    #expect(d.run("a1").installAttempts == RolloutStateMachine.maxInstallAttempts)
    #expect(d.hostPhase("a1") == .unknown && d.run("a1").errorKind == "outcome_unknown")
    #expect(d.log.steps.filter { $0 == "a1:install" }.count == RolloutStateMachine.maxInstallAttempts)
}

@Test func unknownNonIdempotentInstallIsNeverSentAgain() {
    var d = started(idempotent: false)
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.lost)
    let actions = d.finish("a1", .detect, F.ok(F.old))
    #expect(actions.steps.isEmpty)
    #expect(d.hostPhase("a1") == .unknown && d.run("a1").errorKind == "outcome_unknown")
    #expect(d.run("a1").error?.contains("not idempotent") == true)
    #expect(actions.notices.contains { if case .hostUnknown(host: "a1", _) = $0 { true } else { false } })
    #expect(d.log.steps.filter { $0 == "a1:install" }.count == 1)
}

@Test func unknownInstallWhoseDetectFailsIsUnknown() {
    var d = started(idempotent: true)
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.lost)
    d.finish("a1", .detect, F.notRun)
    #expect(d.hostPhase("a1") == .unknown)
    #expect(d.log.steps.filter { $0 == "a1:install" }.count == 1)
}

@Test func verifyWithUnknownOutcomeIsUnknown() {
    var d = started()
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.ok())
    d.finish("a1", .verify, F.lost)
    #expect(d.hostPhase("a1") == .unknown && d.run("a1").errorKind == "timeout")
}

@Test func retryOfAnUnknownHostMaySendANonIdempotentInstallAgain() {
    var d = started(2, idempotent: false)
    d.succeed("a2")
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.lost)
    d.finish("a1", .detect, F.ok(F.old))
    #expect(d.hostPhase("a1") == .unknown)
    // The wave is settled (unknown counts as a failure, within max_failures): wave 2 waits.
    #expect(d.phase == .waitingApproval)
    // An operator's retry runs the host again from detect, in its (earlier) wave.
    #expect(d.send(.retry(host: "a1", by: "bob")).steps == ["a1:detect"])
    d.finish("a1", .detect, F.ok(F.old))
    d.finish("a1", .install, F.ok())
    d.finish("a1", .verify, F.ok())
    #expect(d.hostPhase("a1") == .succeeded && d.run("a1").previous == F.old)
}

@Test func skippedHostNoLongerCountsAsAFailure() {
    var d = RolloutDriver(F.plan([F.wave("a", 2), F.wave("b", 1)]), F.recipe(maxFailures: .count(0)))
    d.send(.start)
    d.failDetect("a1")
    #expect(d.phase == .halted && d.sm.failures(inWave: 0) == 1)
    d.send(.skip(host: "a1", by: "bob"))
    #expect(d.hostPhase("a1") == .skipped && d.sm.failures(inWave: 0) == 0)
    #expect(d.send(.resume(by: "bob")).steps == [])  // a2 is still running its detect
    d.succeed("a2")
    #expect(d.wavePhase(0) == .done && d.hostPhase("b1") == .running)
}

@Test(arguments: ["1.2\u{0B}reboot", "1.2\u{2028}reboot", "1.2\u{85}reboot", "1.2\u{0C}x"])
func detectOutputWithOtherLineSeparatorsIsHostile(_ output: String) {
    var d = started()
    #expect(d.finish("a1", .detect, F.ok(output)).steps.isEmpty)
    #expect(d.run("a1").errorKind == "bad_detect_output")
}

@Test func aHostRetriedWhileItsWaveBakesRunsAgainAtOnce() {
    var d = RolloutDriver(F.plan([F.wave("a", 2, bake: 60), F.wave("b", 1)]), F.recipe(maxFailures: .count(1)))
    d.send(.start)
    d.succeed("a1")
    d.failDetect("a2")
    #expect(d.phase == .baking)
    #expect(d.send(.retry(host: "a2", by: "bob")).steps == ["a2:detect"])
    d.succeed("a2")
    d.send(.bakeElapsed(wave: 0))
    #expect(d.hostPhase("b1") == .running)
}

@Test func aRetriedHostOfAnEarlierWaveWaitsForTheWindowAndNotForHaltOrPause() {
    var d = RolloutDriver(
        F.plan([F.wave("a", 2), F.wave("b", 2)]), F.recipe(maxFailures: .count(1), window: "evening"),
        windowOpen: true)
    d.send(.start)
    d.succeed("a1")
    d.failDetect("a2")  // within max_failures: wave 2 starts
    #expect(d.hostPhase("b1") == .running)
    d.send(.windowChanged(open: false, by: "timer"))
    #expect(d.send(.retry(host: "a2", by: "bob")).steps.isEmpty)
    d.send(.pause(by: "bob"))
    #expect(d.send(.windowChanged(open: true, by: "timer")).steps.isEmpty)  // paused
    #expect(d.send(.resume(by: "bob")).steps == ["a2:detect"])
    d.succeed("a2")
    d.succeed("b1")
    d.succeed("b2")
    #expect(d.phase == .succeeded)
}

@Test func theRolloutDoesNotSucceedBeforeARetriedHostOfAnEarlierWaveRan() {
    var d = RolloutDriver(
        F.plan([F.wave("a", 1), F.wave("b", 0, .operator)]), F.recipe(maxFailures: .count(1), window: "evening"),
        windowOpen: true)
    d.send(.start)
    d.failDetect("a1")
    #expect(d.phase == .waitingApproval)
    d.send(.windowChanged(open: false, by: "timer"))
    d.send(.retry(host: "a1", by: "bob"))
    d.approve(1)  // the last wave has no host: it would be done at once
    #expect(d.phase == .running && d.hostPhase("a1") == .pending)
    #expect(d.send(.windowChanged(open: true, by: "timer")).steps == ["a1:detect"])
    d.succeed("a1")
    #expect(d.phase == .succeeded)
}
