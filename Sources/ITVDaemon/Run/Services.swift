import Dispatch
import Foundation
import ITVControlServer
import ITVEngine
import ITVSystemd
import ServiceLifecycle

/// The engine's work loop; on graceful shutdown no new step starts and steps in flight finish or are
/// recorded before the loop ends.
struct EngineService: Service {
    let engine: RolloutEngine
    let stopTimeout: Double
    let notifier: Notifier

    func run() async throws {
        await withGracefulShutdownHandler {
            await engine.run()
        } onGracefulShutdown: {
            _ = notifier.stopping()
            Task { await engine.stop(timeout: stopTimeout) }
        }
    }
}

struct FeedService: Service {
    let watcher: FeedWatcher

    func run() async throws {
        await cancelWhenGracefulShutdown { await watcher.run() }
    }
}

/// READY=1, then STATUS= every few seconds and the watchdog.
struct StatusService: Service {
    let daemon: Daemon
    let server: ControlServer

    func run() async throws {
        try await daemon.announceReady(server: server)
        let heartbeat = daemon.heartbeat
        let watchdog = WatchdogLoop { heartbeat.isAlive(maxAge: .seconds(30)) }
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                if let watchdog { group.addTask { await watchdog.run() } }
                group.addTask {
                    while !Task.isCancelled {
                        // A failed store means nothing more can be persisted: stop the daemon (exit 1) so that
                        // systemd restarts it and recovery starts from what was committed.
                        if await daemon.engine.storeFailure != nil { throw DaemonExit.storeFailed }
                        await daemon.tick()
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
        }
    }
}

/// While the running set holds a kept directory read (a directory was unreachable), looks every `interval`
/// whether it answers again (`Daemon.retryDirectories`): 5 minutes, `ITVD_DIRECTORY_RETRY_SECONDS` in
/// itvd's environment for tests.
struct DirectoryRetryService: Service {
    let daemon: Daemon

    var interval: Duration {
        let seconds = ProcessInfo.processInfo.environment["ITVD_DIRECTORY_RETRY_SECONDS"].flatMap { Int($0) }
        return .seconds(max(1, seconds ?? 300))
    }

    func run() async throws {
        let interval = self.interval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await daemon.retryDirectories()
            }
        }
    }
}

/// A signal handler on a dispatch source (the default action is ignored first).
final class SignalSource: @unchecked Sendable {
    let source: DispatchSourceSignal

    init(_ signal: Int32, handler: @escaping @Sendable () -> Void) {
        Foundation.signal(signal, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
    }

    func cancel() { source.cancel() }
}
