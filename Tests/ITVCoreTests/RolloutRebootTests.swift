import Testing

@testable import ITVCore

private typealias F = RolloutFixture

/// A recipe whose playbook has `reboot` settings; exit code 100 means reboot_required on every OS.
private func recipe(_ policy: RebootPolicy, codes: [Int32: ExitCodeAction] = [100: .rebootRequired]) -> RolloutRecipe {
    var recipe = F.recipe(maxFailures: .count(10))
    let steps = Steps(
        detect: StepCommand(all: F.template("app-version")), install: StepCommand(all: F.template("app-install")),
        verify: StepCommand(all: F.template("app-check")), rollback: nil,
        reboot: RebootSpec(exitCodes: codes, policy: policy, timeout: TimeSpan(seconds: 300)))
    let playbook = Playbook(
        id: "firefox-esr", name: "Firefox ESR", vendor: "Mozilla", targets: [Located("all", at: F.here)], feed: nil,
        steps: steps, rollout: RolloutSpec(waves: [], maxFailures: .count(10)), origin: F.here)
    recipe = RolloutRecipe(playbook: playbook)
    return recipe
}

/// Host a1 (of `os`) through detect, then install exiting `code`.
private func installed(_ code: Int32, _ r: RolloutRecipe, os: OSFamily = .linux) -> (RolloutDriver, [RolloutAction]) {
    var d = RolloutDriver(F.plan([F.wave("a", 1)]), r)
    d.sm.hostOS = ["a1": os]
    d.send(.start)
    d.finish("a1", .detect, F.ok("1.0"))
    let actions = d.finish("a1", .install, F.exit(code))
    return (d, actions)
}

@Test func windowsExitCodeDefaultsAreMSIs() {
    let windows = ExitCodeMap.defaults(for: .windows)
    #expect(windows.action(for: 0) == .ok)
    #expect(windows.action(for: 3010) == .rebootRequired)
    #expect(windows.action(for: 1641) == .rebooted)
    #expect(windows.action(for: 1618) == .retry)
    #expect(windows.action(for: 1603) == nil)
    let linux = ExitCodeMap.defaults(for: .linux)
    #expect(linux.entries == [0: .ok])
    // The playbook's entries go over the defaults.
    let mine = ExitCodeMap.effective(for: .windows, overrides: [3010: .ok, 100: .retry])
    #expect(mine.action(for: 3010) == .ok && mine.action(for: 100) == .retry && mine.action(for: 1641) == .rebooted)
}

@Test func windows3010WithRebootNeverSucceedsWithRebootPending() {
    let (d0, actions) = installed(3010, F.recipe(maxFailures: .count(10)), os: .windows)
    var d = d0
    #expect(actions.steps == ["a1:verify"])
    #expect(actions.contains(.recordReboot(host: "a1", pending: true)))
    #expect(d.run("a1").rebootPending)
    d.finish("a1", .verify, F.ok())
    #expect(d.hostPhase("a1") == .succeeded && d.run("a1").rebootPending)
    #expect(d.phase == .succeeded)
    // The same code from a Linux host is a failure, as before.
    let (linux, _) = installed(3010, F.recipe(maxFailures: .count(10)), os: .linux)
    #expect(linux.hostPhase("a1") == .failed && !linux.run("a1").rebootPending)
}

@Test func windows1641WaitsForTheHostWithoutSendingAReboot() {
    let (d0, actions) = installed(1641, recipe(.never), os: .windows)
    var d = d0
    #expect(actions.steps == ["a1:wait_reboot"])
    #expect(!d.log.steps.contains("a1:reboot"))
    #expect(d.run("a1").rebootStartedAt != nil)
    let back = d.finish("a1", .waitReboot, F.ok())
    #expect(back.steps == ["a1:verify"])
    #expect(back.contains(.recordReboot(host: "a1", pending: false)))
    d.finish("a1", .verify, F.ok())
    #expect(d.hostPhase("a1") == .succeeded && !d.run("a1").rebootPending)
}

@Test func windows1618IsSentAgainAfterABackoffAtMostThreeTimes() {
    let (d0, actions) = installed(1618, F.recipe(maxFailures: .count(10)), os: .windows)
    var d = d0
    #expect(actions.steps.isEmpty)
    #expect(actions.contains(.scheduleRetry(host: "a1", seconds: 60)))
    #expect(d.hostPhase("a1") == .running && !d.run("a1").stepInFlight)
    var backoffs: [Int64] = [60]
    for _ in 0..<3 {
        #expect(d.send(.retryDue(host: "a1")).steps == ["a1:install"])
        let again = d.finish("a1", .install, F.exit(1618))
        for case .scheduleRetry(_, let s) in again { backoffs.append(s) }
    }
    #expect(backoffs == [60, 120, 240])
    #expect(d.hostPhase("a1") == .failed, "\(d.run("a1"))")
    #expect(d.run("a1").installAttempts == 4)
    // A stale timer does nothing.
    #expect(d.send(.retryDue(host: "a1")).isEmpty)
}

@Test func a1618ThenSuccessGoesOnToVerify() {
    var (d, _) = installed(1618, F.recipe(maxFailures: .count(10)), os: .windows)
    d.send(.retryDue(host: "a1"))
    #expect(d.finish("a1", .install, F.ok()).steps == ["a1:verify"])
}

@Test func ifRequiredSendsTheRebootOnceWaitsThenVerifies() {
    var (d, actions) = installed(100, recipe(.ifRequired))
    #expect(actions.steps == ["a1:reboot"])
    #expect(d.run("a1").rebootStartedAt != nil && d.run("a1").stepInFlight)
    // systemctl reboot usually takes the session with it: an unknown outcome means the restart began.
    let wait = d.finish("a1", .reboot, .unknown(kind: "no_exit_status", message: "connection lost"))
    #expect(wait.steps == ["a1:wait_reboot"])
    #expect(wait.notices.contains { if case .hostReboot = $0 { true } else { false } })
    d.send(.rebootWentDown(host: "a1"))
    #expect(d.run("a1").rebootWentDown)
    #expect(d.finish("a1", .waitReboot, F.ok()).steps == ["a1:verify"])
    d.finish("a1", .verify, F.ok())
    #expect(d.hostPhase("a1") == .succeeded && !d.run("a1").rebootPending)
    #expect(d.log.steps.filter { $0 == "a1:reboot" }.count == 1)
}

@Test func aHostThatDoesNotComeBackFailsWithRebootTimeout() {
    var (d, _) = installed(100, recipe(.ifRequired))
    d.finish("a1", .reboot, F.ok())
    d.finish("a1", .waitReboot, .unknown(kind: "reboot_timeout", message: "did not come back within 300 s"))
    #expect(d.hostPhase("a1") == .failed && d.run("a1").errorKind == "reboot_timeout")
    #expect(d.run("a1").rebootPending)
}

@Test func aFailingRebootCommandFailsTheHost() {
    var (d, _) = installed(100, recipe(.ifRequired))
    d.finish("a1", .reboot, F.exit(1, "Access denied"))
    #expect(d.hostPhase("a1") == .failed && d.run("a1").errorKind == "reboot_failed")
}

/// A crash while the reboot was in flight (maybe sent) never sends it again: recovery waits for the host.
@Test func recoveryNeverSendsARebootTwice() {
    var (d, _) = installed(100, recipe(.ifRequired))
    let started = d.run("a1").rebootStartedAt
    var restarted = RolloutStateMachine(snapshot: d.snapshot)
    guard case .success(let actions) = restarted.handle(.recover, now: 9_999) else {
        Issue.record("recover refused")
        return
    }
    #expect(actions.steps == ["a1:wait_reboot"])
    #expect(restarted.hostRun("a1")?.rebootStartedAt == started, "the deadline must not move")
    // And a crash during the wait resumes the wait, again without a reboot.
    var again = RolloutStateMachine(snapshot: restarted.snapshot)
    guard case .success(let more) = again.handle(.recover, now: 10_000) else { return }
    #expect(more.steps == ["a1:wait_reboot"])
    d = RolloutDriver(F.plan([F.wave("a", 1)]), recipe(.ifRequired))
}

/// A reboot whose intent was recorded but that the stopping daemon did not send is sent after the restart.
@Test func aRebootNotSentIsSentAfterTheRestart() {
    var (d, _) = installed(100, recipe(.ifRequired))
    d.send(.stepNotSent(host: "a1", step: .reboot))
    var restarted = RolloutStateMachine(snapshot: d.snapshot)
    guard case .success(let actions) = restarted.handle(.recover, now: 9_999) else { return }
    #expect(actions.steps == ["a1:reboot"])
}

@Test func aRetryBackoffIsWaitedAgainAfterARestart() {
    let (d, _) = installed(1618, F.recipe(maxFailures: .count(10)), os: .windows)
    var restarted = RolloutStateMachine(snapshot: d.snapshot)
    guard case .success(let actions) = restarted.handle(.recover, now: 9_999) else { return }
    #expect(actions.steps.isEmpty)
    #expect(actions.contains(.scheduleRetry(host: "a1", seconds: 60)))
}

@Test func ifRequiredAndNoUserChecksUsersFirst() {
    var (d, actions) = installed(100, recipe(.ifRequiredAndNoUser))
    #expect(actions.steps == ["a1:user_check"])
    #expect(d.finish("a1", .userCheck, F.ok("")).steps == ["a1:reboot"])

    var (e, _) = installed(100, recipe(.ifRequiredAndNoUser))
    // Someone is logged on: no restart; the host is deferred (user logged on), reboot pending, not a failure.
    let next = e.finish("a1", .userCheck, F.ok("alice    tty7   2026-12-05 08:01 (:0)\n"))
    #expect(next.steps.isEmpty)
    #expect(!e.log.steps.contains("a1:reboot"))
    #expect(e.hostPhase("a1") == .deferred && e.run("a1").deferReason == "user_logged_on")
    #expect(e.run("a1").rebootPending && e.phase != .halted)
    // Retried like an unreached host: from the user check (the install is done), then the restart.
    e.now = e.run("a1").nextAttemptAt ?? e.now
    #expect(e.send(.timerElapsed).steps == ["a1:user_check"])
    #expect(e.finish("a1", .userCheck, F.ok("")).steps == ["a1:reboot"])
    e.finish("a1", .reboot, F.ok())
    e.finish("a1", .waitReboot, F.ok())
    e.finish("a1", .verify, F.ok())
    #expect(e.hostPhase("a1") == .succeeded && !e.run("a1").rebootPending)
    #expect(e.log.steps.filter { $0 == "a1:install" }.count == 1)

    // quser exits 1 with "No User exists for *" when nobody is logged on.
    var w = installed(3010, recipe(.ifRequiredAndNoUser, codes: [:]), os: .windows).0
    #expect(
        w.finish("a1", .userCheck, .exited(code: 1, stdout: "", stderr: "No User exists for *\r\n")).steps == [
            "a1:reboot"
        ])
    // A check that cannot tell (not found, connection lost) never restarts.
    var x = installed(100, recipe(.ifRequiredAndNoUser)).0
    #expect(x.finish("a1", .userCheck, F.exit(127, "who: not found")).steps == ["a1:verify"])
}

@Test(arguments: [
    ("", [String]()),
    ("alice    pts/0        2026-12-05 08:01 (10.1.0.5)\nbob      tty7  2026-12-05 07:00 (:0)\n", ["alice", "bob"]),
    (
        " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME\r\n"
            + ">mueller               console             1  Active      none   05.12.2026 07:58\r\n"
            + " schmidt                                   2  Disc          3    05.12.2026 06:00\r\n",
        ["mueller", "schmidt"]
    ),
    ("alice pts/0\nalice pts/1\n\n", ["alice"]),
])
func loggedOnUsersAreParsedFromWhoAndQuser(output: String, users: [String]) {
    #expect(RebootSpec.loggedOnUsers(output) == users)
}

@Test func rebootDefaultsPerOS() {
    let r = F.recipe()
    #expect(r.template(.reboot, for: .windows)?.source == "shutdown /r /t 60")
    #expect(r.template(.reboot, for: .linux)?.source == "systemctl reboot")
    #expect(r.template(.userCheck, for: .windows)?.source == "quser")
    #expect(r.template(.userCheck, for: .linux)?.source == "who")
    #expect(r.rebootPolicy == .never && r.rebootTimeout == 1_200)
    #expect(r.exitAction(3010, os: .windows) == .rebootRequired && r.exitAction(3010, os: .linux) == nil)
}
