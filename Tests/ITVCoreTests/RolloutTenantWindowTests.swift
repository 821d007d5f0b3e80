import Testing

@testable import ITVCore

private typealias F = RolloutFixture

// MARK: - A tenant's windows

@Test func heldHostsWaitWhileTheOthersOfTheWaveRun() {
    var d = RolloutDriver(F.plan([F.wave("a", 4), F.wave("b", 1)]))
    d.send(.tenantWindowsChanged(held: ["a2", "a4"]))
    #expect(d.send(.start).steps == ["a1:detect", "a3:detect"])
    d.succeed("a1")
    d.succeed("a3")
    // The wave is not done: its held hosts have not run.
    #expect(d.hostPhase("a2") == .pending && d.hostPhase("a4") == .pending)
    #expect(d.wavePhase(0) == .running && d.phase == .running)
    #expect(d.send(.tenantWindowsChanged(held: ["a4"])).steps == ["a2:detect"])
    d.succeed("a2")
    #expect(d.wavePhase(0) == .running)
    #expect(d.send(.tenantWindowsChanged(held: [])).steps == ["a4:detect"])
    d.succeed("a4")
    #expect(d.wavePhase(0) == .done)
}

@Test func aHeldHostWaitsForBothItsTenantAndTheRolloutWindow() {
    var d = RolloutDriver(F.plan([F.wave("a", 2)]), F.recipe(window: "evening"))
    d.send(.tenantWindowsChanged(held: ["a2"]))
    #expect(d.send(.start).steps.isEmpty)
    // The rollout's window opens: only the host whose tenant's window is open (or has none) starts.
    #expect(d.send(.windowChanged(open: true, by: "timer")).steps == ["a1:detect"])
    d.send(.windowChanged(open: false, by: "timer"))
    // Its tenant's window opens while the rollout's is closed: still nothing.
    #expect(d.send(.tenantWindowsChanged(held: [])).steps.isEmpty)
    #expect(d.send(.windowChanged(open: true, by: "timer")).steps == ["a2:detect"])
}

@Test func aHostRunInFlightFinishesWhenItsTenantsWindowCloses() {
    var d = RolloutDriver(F.plan([F.wave("a", 2)]))
    d.send(.start)
    d.finish("a1", .detect, F.ok(F.old))
    d.send(.tenantWindowsChanged(held: ["a1", "a2"]))
    // a1 goes on with its steps; a2 had been dispatched before as well and goes on too.
    #expect(d.finish("a1", .install, F.ok()).steps == ["a1:verify"])
    d.finish("a1", .verify, F.ok())
    #expect(d.hostPhase("a1") == .succeeded)
}
