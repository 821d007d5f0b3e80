import ITVCore
import ITVEngine

/// How `LibSSH2Executor` connects: which key, which known_hosts, how long to wait, how much output to keep.
public struct SSHExecutorConfiguration: Hashable, Sendable {
    /// Private key file (ed25519 or ECDSA, no passphrase). `nil` uses the ssh-agent at `SSH_AUTH_SOCK`.
    public var identityFile: String?
    /// OpenSSH known_hosts file holding the pinned host key of every host. Hosts not in it are refused.
    public var knownHostsFile: String
    /// Deadline for TCP connect, SSH handshake and authentication together.
    public var connectTimeout: Duration
    /// Bytes of stdout and of stderr kept per command; the rest is read, counted and dropped.
    public var outputCap: Int
    /// Global cap on concurrent SSH sessions (each holds one dedicated thread).
    public var parallel: Int
    /// Grace period the remote `timeout --kill-after` gives a command between TERM and KILL.
    public var killAfter: Duration
    /// The ssh-agent socket used when `identityFile` is nil; nil means `SSH_AUTH_SOCK` of the process.
    public var agentSocket: String?
    /// Upload rate of `stage` over all sessions of the executor together, in bytes per second; 0 = unlimited.
    public var uploadRate: Int64 = 0
    /// The window an upload keeps in flight (docs/TECH-NOTES.md 22). A multiple of libssh2's 30,000-byte SFTP
    /// packet. Memory per upload: three windows (two read ahead, one queued in libssh2).
    public var uploadChunk: Int = 960_000

    public init(
        identityFile: String?, knownHostsFile: String, connectTimeout: Duration = .seconds(10),
        outputCap: Int = 1 << 20, parallel: Int = 64, killAfter: Duration = .seconds(5), agentSocket: String? = nil
    ) {
        self.identityFile = identityFile
        self.agentSocket = agentSocket
        self.knownHostsFile = knownHostsFile
        self.connectTimeout = connectTimeout
        self.outputCap = max(0, outputCap)
        self.parallel = max(1, parallel)
        self.killAfter = killAfter
    }

    /// From the daemon configuration (`ssh:` and `parallel:`). An empty identity path means ssh-agent.
    public init(_ config: DaemonConfig) {
        self.init(
            identityFile: config.ssh.identity.isEmpty ? nil : config.ssh.identity,
            knownHostsFile: config.ssh.knownHosts,
            connectTimeout: .seconds(config.ssh.connectTimeout.seconds),
            parallel: config.parallel)
    }
}

/// Why a connection or command failed, as the engine's outcome. Internal to the adapter.
struct SSHFailure: Error, Sendable {
    enum Kind { case connectFailed, timeout, authFailed, hostkeyUnknown, protocolError, noExitStatus }

    var outcome: CommandOutcome

    init(outcome: CommandOutcome) { self.outcome = outcome }

    init(_ kind: Kind, _ message: String) {
        switch kind {
        case .connectFailed: outcome = .connectFailed(message)
        case .timeout: outcome = .timeout(message)
        case .authFailed: outcome = .authFailed(message)
        case .hostkeyUnknown: outcome = .hostkeyUnknown(message)
        case .protocolError: outcome = .protocolError(message)
        case .noExitStatus: outcome = .noExitStatus(message)
        }
    }
}

extension Duration {
    /// Whole milliseconds, at least 0, for poll(2).
    var pollMilliseconds: Int32 {
        let c = components
        let ms = c.seconds * 1_000 + c.attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: max(0, ms))
    }

    var secondsDescription: String {
        let c = components
        return c.attoseconds == 0 ? "\(c.seconds)s" : "\(Double(c.seconds) + Double(c.attoseconds) / 1e18)s"
    }
}
