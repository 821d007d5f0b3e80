import Dispatch
import Foundation
import ITVCore
import ITVEngine
import ITVPlaybookLoader
import ITVStore
import Logging
import Synchronization
import Testing

@testable import ITVDaemon

/// A reload that takes long (a large set of files) must not stop the status tick, which beats the heartbeat
/// that the systemd watchdog pings on: under `WatchdogSec=` a daemon whose tick stalls is killed.
@Suite struct ReloadWatchdogTests {
    /// A loader that blocks until the test opens its gate, and counts how many run at once.
    final class SlowLoader: Sendable {
        let result: Loaded<LoadedSet>
        private let gate = DispatchSemaphore(value: 0)
        private let state = Mutex<(running: Int, most: Int, entered: Int)>((0, 0, 0))

        init(result: Loaded<LoadedSet>) { self.result = result }

        func load() -> Loaded<LoadedSet> {
            state.withLock {
                $0.running += 1
                $0.entered += 1
                $0.most = max($0.most, $0.running)
            }
            gate.wait()
            state.withLock { $0.running -= 1 }
            return result
        }

        func open(_ count: Int = 1) { for _ in 0..<count { gate.signal() } }
        var entered: Int { state.withLock { $0.entered } }
        var mostAtOnce: Int { state.withLock { $0.most } }
    }

    static func withDaemon(_ body: (Daemon, SlowLoader) async throws -> Void) async throws {
        let dir = try CheckCommandTests.set(playbook: CheckCommandTests.playbook, address: "192.0.2.1")
        let overrides = ConfigOverrides(
            playbooks: dir.path + "/playbooks", inventory: dir.path + "/inventory.yaml", state: dir.path + "/state",
            socket: dir.path + "/itvd.sock")
        let loaded = SetLoader.load(configFile: nil, overrides: overrides)
        let set = try #require(loaded.value, "\(loaded.diagnostics)")
        let store = try await SQLiteRolloutStore.open(stateDirectory: dir.path + "/state")
        let loader = SlowLoader(result: loaded)
        let daemon = Daemon(
            set: set, configFile: nil, overrides: overrides, store: store, logger: Logger(label: "test"),
            loadSet: { loader.load() })
        try await daemon.engine.start()
        do {
            try await body(daemon, loader)
        } catch {
            loader.open(16)
            await store.close()
            throw error
        }
        await store.close()
    }

    static func waitUntil(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
        await eventually(timeout: .seconds(seconds), interval: .milliseconds(20), condition)
    }

    @Test func theStatusTickGoesOnWhileAReloadReadsItsFiles() async throws {
        try await Self.withDaemon { daemon, loader in
            let heartbeat = await daemon.heartbeat
            let reload = Task { await daemon.reload(by: .daemon) }
            #expect(await Self.waitUntil(30) { loader.entered == 1 }, "the reload did not start loading")
            // The loader is blocked: the reload is "reading files". A tick must still complete, and beat.
            let ticked = Mutex(false)
            let tick = Task {
                await daemon.tick()
                ticked.withLock { $0 = true }
            }
            let done = await Self.waitUntil(10) { ticked.withLock { $0 } }
            #expect(done, "the status tick waited for the reload's loading (the watchdog would stop pinging)")
            #expect(heartbeat.isAlive(maxAge: .seconds(5)))
            loader.open()
            let response = await reload.value
            await tick.value
            #expect(response.ok, "\(response.problems)")
        }
    }

    /// Reloads asked for at the same moment run one after the other, never two loads at once.
    @Test func concurrentReloadsRunOneAtATime() async throws {
        try await Self.withDaemon { daemon, loader in
            let reloads = (0..<4).map { _ in Task { await daemon.reload(by: .daemon) } }
            #expect(await Self.waitUntil(30) { loader.entered >= 1 })
            for i in 1...4 {
                loader.open()
                if i < 4 { #expect(await Self.waitUntil(10) { loader.entered > i }) }
            }
            for reload in reloads { #expect(await reload.value.ok) }
            #expect(loader.entered == 4)
            #expect(loader.mostAtOnce == 1)
        }
    }
}
