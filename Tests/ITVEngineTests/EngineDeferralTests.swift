import Foundation
import ITVCore
import Logging
import Testing

@testable import ITVEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A UDP socket on 127.0.0.1 (an ephemeral port) that collects every datagram it receives.
final class UDPListener: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let lock = NSLock()
    private var received: [[UInt8]] = []
    private var thread: Thread?

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        thread = nil
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let t = Thread { [unowned self] in
            var buffer = [UInt8](repeating: 0, count: 2048)
            while !Thread.current.isCancelled {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    lock.lock()
                    received.append(Array(buffer[0..<n]))
                    lock.unlock()
                }
            }
        }
        thread = t
        t.start()
    }

    var packets: [[UInt8]] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    func stop() {
        thread?.cancel()
        usleep(200_000)
        close(fd)
    }
}

@Suite struct EngineDeferralTests {
    static func set(listener port: Int, retry: Int64, deadline: Int64 = 7 * 86_400, hosts: Int = 3) -> LoadedSet {
        var set = makeSet(
            hosts: hosts, waves: [WaveSpec(name: "broad", size: .rest, approval: .auto)], window: nil,
            retryUnreached: retry, reachDeadline: deadline)
        set.inventory.hosts[0].mac = "52:54:00:12:34:56"
        set.config.wakeOnLAN = WakeOnLAN(address: "127.0.0.1", port: port, lead: TimeSpan(seconds: 60))
        return set
    }

    static func engine(_ set: LoadedSet, fleet: FakeFleet, store: MemoryStore, clock: ManualClock) async throws
        -> (RolloutEngine, Task<Void, Never>)
    {
        var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let engine = RolloutEngine(
            set: set, store: await store.handle(), executor: FakeExecutor(fleet: fleet), clock: clock, logger: logger)
        let loop = Task { await engine.run() }
        try await engine.start()
        return (engine, loop)
    }

    /// A switched-off workstation with a MAC: woken `lead` before its first run, not reached (deferred, not a
    /// failure: the wave and rollout go on), woken again `lead` before its retry, switched on, caught up.
    @Test func aSwitchedOffHostIsWokenDeferredWokenAgainAndCaughtUp() async throws {
        let listener = try UDPListener()
        defer { listener.stop() }
        let fleet = FakeFleet(hosts: ["h01": "1.0", "h02": "1.0", "h03": "1.0"])
        await fleet.set("h01") { $0.unreachable = true }
        let clock = ManualClock()
        let store = MemoryStore()
        let (engine, loop) = try await Self.engine(
            Self.set(listener: listener.port, retry: 600), fleet: fleet, store: store, clock: clock)
        defer { loop.cancel() }
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let magic = WakeOnLAN.magicPacket(mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        // The packet goes at once; h02 and h03 run, h01 waits for its lead.
        try await until { listener.packets.count == 1 }
        #expect(listener.packets == [magic] && magic.count == 102)
        try await until {
            let s = try? await engine.snapshot(id)
            return s?.run("h02")?.phase == .succeeded && s?.run("h03")?.phase == .succeeded
        }
        #expect(try await engine.snapshot(id).run("h01")?.phase == .pending)
        #expect(await fleet.state("h01")?.ledger == [])
        // The lead passes: the attempt fails to connect: deferred; the wave is done, the rollout catches up.
        clock.advance(seconds: 60)
        try await until { (try? await engine.snapshot(id))?.phase == .catchingUp }
        var s = try await engine.snapshot(id)
        #expect(s.run("h01")?.phase == .deferred && s.run("h01")?.deferReason == "unreached")
        #expect(s.run("h01")?.errorKind == "connect_failed")
        #expect(listener.packets.count == 1)
        // Stored as such (persist, then act).
        #expect(await store.hostRuns[id]?["h01"]?.phase == .deferred)
        // 540 s later (the retry in 600 s, less the 60 s lead): the second packet. The wake is the rollout's
        // timer, slept on the clock in pieces of at most a minute: 300 s on, the same timer sleeps its next
        // piece instead of firing, so no packet went (shown by the timer's state, not by a pause).
        let wake = clock.now() + 540_000
        try await until { await engine.timers[id] == wake }
        clock.advance(seconds: 300)
        try await until { clock.nextWake == clock.now() + 60_000 }
        #expect(await engine.timers[id] == wake, "the wake timer fired early")
        #expect(listener.packets.count == 1)
        clock.advance(seconds: 240)
        try await until { listener.packets.count == 2 }
        #expect(listener.packets == [magic, magic])
        await fleet.set("h01") { $0.unreachable = false }
        clock.advance(seconds: 60)
        s = try await until(id, engine) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
        #expect(s.run("h01")?.phase == .succeeded && s.run("h01")?.wakes == 2 && s.run("h01")?.deferrals == 1)
        #expect(await fleet.state("h01")?.version == "2.0")
        // No timer is left on the clock, so nothing can wake the host again (no sleep needed).
        try await until { clock.sleeping == 0 }
        #expect(listener.packets.count == 2, "exactly one packet before the first run and one before the retry")
    }

    /// Never switched on: tried every retry until the deadline, then unreached; the rollout ends incomplete.
    /// A kill -9 meanwhile re-arms the timer from the store.
    @Test func aHostNeverReachedEndsUnreachedAndTheRolloutIncompleteAcrossARestart() async throws {
        let listener = try UDPListener()
        defer { listener.stop() }
        let fleet = FakeFleet(hosts: ["h01": "1.0", "h02": "1.0", "h03": "1.0"])
        await fleet.set("h02") { $0.unreachable = true }
        let clock = ManualClock()
        let store = MemoryStore()
        let set = Self.set(listener: listener.port, retry: 600, deadline: 1_800)
        var (engine, loop) = try await Self.engine(set, fleet: fleet, store: store, clock: clock)
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        clock.advance(seconds: 60)  // h01's lead
        try await until { (try? await engine.snapshot(id))?.phase == .catchingUp }
        // kill -9: the new daemon knows nothing of the old timer.
        await store.crash()
        loop.cancel()
        (engine, loop) = try await Self.engine(set, fleet: fleet, store: store, clock: clock)
        defer { loop.cancel() }
        for _ in 0..<4 {
            clock.advance(seconds: 600)
            try await Task.sleep(for: .milliseconds(50))
        }
        let s = try await until(id, engine) { $0.phase.isFinal }
        #expect(s.phase == .incomplete)
        #expect(s.run("h02")?.phase == .unreached)
        #expect(s.rollout.reason?.contains("h02") == true)
        #expect((s.run("h02")?.deferrals ?? 0) >= 2)
        #expect(s.run("h01")?.phase == .succeeded && s.run("h03")?.phase == .succeeded)
        #expect(await store.rollouts[id]?.phase == .incomplete)
    }

    @Test func mostHostsUnreachableHaltTheWave() async throws {
        let names = (1...12).map { String(format: "h%02d", $0) }
        let fleet = FakeFleet(hosts: Dictionary(uniqueKeysWithValues: names.map { ($0, "1.0") }))
        for n in names.prefix(10) { await fleet.set(n) { $0.unreachable = true } }
        let clock = ManualClock()
        var set = Self.set(listener: 9, retry: 600, hosts: 12)
        set.inventory.hosts[0].mac = nil
        let (engine, loop) = try await Self.engine(set, fleet: fleet, store: MemoryStore(), clock: clock)
        defer { loop.cancel() }
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        let s = try await until(id, engine) { $0.phase == .halted }
        #expect(s.rollout.reason?.contains("network or site down?") == true)
        #expect(s.hostRuns.filter { $0.phase == .failed }.isEmpty)
    }
}

/// Waits until the rollout's snapshot satisfies `predicate` with nothing in flight.
@discardableResult
func until(
    _ id: Int64, _ engine: RolloutEngine, timeout: Double = 60, _ predicate: @escaping (RolloutSnapshot) -> Bool,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) async throws -> RolloutSnapshot {
    let deadline = Date().addingTimeInterval(timeout)
    var last = try await engine.snapshot(id)
    while Date() < deadline {
        if let s = try? await engine.snapshot(id) { last = s }
        if predicate(last), !last.hostRuns.contains(where: \.stepInFlight) { return last }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("timed out; rollout is \(last.rollout.phase.rawValue)", sourceLocation: sourceLocation)
    return last
}

@Suite struct EngineDeferralScaleTests {
    /// The field's size: 800 hosts in three waves, 15 % switched off. Every wave passes without halting, the
    /// switched-off hosts are deferred (none failed); switched on, they are caught up and the rollout succeeds.
    @Test func eightHundredHostsWithFifteenPercentSwitchedOff() async throws {
        let names = (1...800).map { String(format: "h%02d", $0) }
        let fleet = FakeFleet(hosts: Dictionary(uniqueKeysWithValues: names.map { ($0, "1.0") }))
        var rng = SplitMix64(seed: 800)
        let off = names.filter { _ in Int.random(in: 0..<100, using: &rng) < 15 }
        for n in off { await fleet.set(n) { $0.unreachable = true } }
        let set = makeSet(
            hosts: 800,
            waves: [
                WaveSpec(name: "canary", size: .count(20), approval: .auto),
                WaveSpec(name: "pilot", size: .percent(10), approval: .auto),
                WaveSpec(name: "broad", size: .rest, approval: .auto, parallel: 64),
            ], window: nil, retryUnreached: 900)
        let clock = ManualClock()
        let (engine, loop) = try await EngineDeferralTests.engine(set, fleet: fleet, store: MemoryStore(), clock: clock)
        defer { loop.cancel() }
        let started = ContinuousClock.now
        let id = try await engine.createRollout(procedure: "app", version: "2.0", by: alice).rollout.id
        var s = try await until(id, engine, timeout: 300) { $0.phase == .catchingUp || $0.phase.isFinal }
        #expect(s.phase == .catchingUp, "\(s.rollout.reason ?? "")")
        #expect(Set(s.hostRuns.filter { $0.phase == .deferred }.map(\.host)) == Set(off))
        #expect(s.hostRuns.filter { $0.phase == .failed }.isEmpty)
        #expect(off.count > 80 && off.count < 160)
        for n in off { await fleet.set(n) { $0.unreachable = false } }
        clock.advance(seconds: 900)
        s = try await until(id, engine, timeout: 300) { $0.phase.isFinal }
        #expect(s.phase == .succeeded)
        #expect(s.hostRuns.allSatisfy { $0.phase == .succeeded })
        print("800 hosts, \(off.count) switched off, caught up: \(ContinuousClock.now - started)")
    }
}
