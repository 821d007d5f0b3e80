import CLibSSH2
import Foundation
import ITVEngine
import Logging

/// The SSH adapter of the `RemoteExecutor` port, on libssh2. Every session gets a dedicated thread; at most
/// `configuration.parallel` sessions exist at once (callers wait for a slot).
public final class LibSSH2Executor: RemoteExecutor {
    public let configuration: SSHExecutorConfiguration
    private let logger: Logger
    private let limiter: SessionLimiter
    private let knownHosts = KnownHostsCache()
    /// The one upload rate of every session's `stage` (nil: unlimited).
    private let uploadRate: UploadRateLimiter?

    public init(configuration: SSHExecutorConfiguration, logger: Logger = Logger(label: "itv.ssh")) {
        LibSSH2Library.initialize()
        self.configuration = configuration
        self.logger = logger
        self.limiter = SessionLimiter(configuration.parallel)
        uploadRate =
            configuration.uploadRate > 0
            ? UploadRateLimiter(
                rate: configuration.uploadRate,
                burst: UploadRateLimiter.chunk(rate: configuration.uploadRate, chunk: configuration.uploadChunk))
            : nil
    }

    public func connect(to host: RemoteHost) async -> Result<any RemoteSession, RemoteConnectError> {
        await limiter.acquire()
        let known: KnownHosts
        switch knownHosts.load(path: configuration.knownHostsFile) {
        case .success(let hosts): known = hosts
        case .failure(let failure):
            limiter.release()
            return .failure(RemoteConnectError(failure.outcome))
        }
        let thread = SessionThread(name: "itv-ssh \(host.name)")
        let connection = SSHConnection(host: host, configuration: configuration)
        let failure = await thread.perform(orElse: SSHFailure(.protocolError, "session thread ended")) {
            connection.connect(knownHosts: known)
        }
        if let failure {
            thread.finish()
            limiter.release()
            if case .hostkeyMismatch(let expected, let presented) = failure.outcome {
                logger.critical(
                    "host key of \(host.name) changed: known_hosts pins \(expected), host presented \(presented)",
                    metadata: [
                        "host": "\(host.name)", "event": "hostkey.mismatch", "expected": "\(expected)",
                        "presented": "\(presented)", "address": "\(connection.endpoint)",
                    ])
            } else {
                logger.debug(
                    "cannot connect to \(host.name): \(failure.outcome.kind)",
                    metadata: ["host": "\(host.name)", "outcome": "\(failure.outcome.kind)"])
            }
            return .failure(RemoteConnectError(failure.outcome))
        }
        return .success(
            LibSSH2Session(connection: connection, thread: thread, limiter: limiter, uploadRate: uploadRate))
    }

    /// `stage` on a session of this executor, and where its time went (check, upload, sync, commit): for the
    /// benchmark. Nil for a session of another executor.
    public func measuredStage(
        _ request: StageRequest, on session: any RemoteSession, timeout: Duration
    ) async -> (StageOutcome, StagePhases)? {
        guard let session = session as? LibSSH2Session else { return nil }
        return await session.measuredStage(request, timeout: timeout)
    }

    /// Connects, runs one command and closes: the shape of a probe.
    public func run(_ command: String, on host: RemoteHost, timeout: Duration) async -> CommandOutcome {
        switch await connect(to: host) {
        case .failure(let error): return error.outcome
        case .success(let session):
            let outcome = await session.run(command, timeout: timeout)
            await session.close()
            return outcome
        }
    }
}

/// One authenticated connection; its commands run one after another on the session's thread.
/// Mutable state is guarded by `state`.
final class LibSSH2Session: RemoteSession, @unchecked Sendable {
    private let connection: SSHConnection
    private let thread: SessionThread
    private let limiter: SessionLimiter
    private let uploadRate: UploadRateLimiter?
    private let state = NSLock()
    private var closed = false

    init(connection: SSHConnection, thread: SessionThread, limiter: SessionLimiter, uploadRate: UploadRateLimiter?) {
        self.connection = connection
        self.thread = thread
        self.limiter = limiter
        self.uploadRate = uploadRate
    }

    func stage(_ request: StageRequest, timeout: Duration) async -> StageOutcome {
        await measuredStage(request, timeout: timeout).0
    }

    /// `stage`, and where its time went.
    func measuredStage(_ request: StageRequest, timeout: Duration) async -> (StageOutcome, StagePhases) {
        let connection = self.connection
        let rate = uploadRate
        let closed = StageOutcome.interrupted(.connectFailed("session to \(connection.endpoint) is closed"))
        let none = StagePhases(started: .now)
        guard !isClosed else { return (closed, none) }
        return await thread.perform(orElse: (closed, none)) {
            var phases = StagePhases(started: .now)
            let outcome = connection.stage(request, timeout: timeout, rate: rate, phases: &phases)
            return (outcome, phases)
        }
    }

    func run(_ command: String, timeout: Duration) async -> CommandOutcome {
        let connection = self.connection
        guard !isClosed else { return .connectFailed("session to \(connection.endpoint) is closed") }
        return await thread.perform(orElse: .connectFailed("session to \(connection.endpoint) is closed")) {
            connection.run(command, timeout: timeout)
        }
    }

    func close() async {
        guard markClosed() else { return }
        let connection = self.connection
        await thread.perform(orElse: ()) { connection.close() }
        thread.finish()
        limiter.release()
    }

    deinit {
        if markClosed() {
            let connection = self.connection
            thread.submit { connection.drop(reason: "session released without close") }
            thread.finish()
            limiter.release()
        }
    }

    private var isClosed: Bool {
        state.lock()
        defer { state.unlock() }
        return closed
    }

    /// True for the one caller that closes.
    private func markClosed() -> Bool {
        state.lock()
        defer { state.unlock() }
        if closed { return false }
        closed = true
        return true
    }
}

/// `libssh2_init` once per process (docs/TECH-NOTES.md 10).
enum LibSSH2Library {
    private static let once: Void = {
        _ = libssh2_init(0)
        // A dropped connection must not kill the process when libssh2 writes to it.
        signal(SIGPIPE, SIG_IGN)
    }()

    static func initialize() { _ = once }
}
