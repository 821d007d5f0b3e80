import ITVCore

/// Where and as whom to connect for one host.
public struct RemoteHost: Hashable, Sendable {
    public var name: String
    public var address: String
    public var port: Int
    public var user: String
    public var os: OSFamily

    public init(name: String, address: String, port: Int = 22, user: String, os: OSFamily = .linux) {
        self.name = name
        self.address = address
        self.port = port
        self.user = user
        self.os = os
    }

    public init(_ host: Host) {
        self.init(name: host.name, address: host.address, port: host.port, user: host.user, os: host.os)
    }
}

/// What a command's output stream kept: the first `cap` bytes, and how many were dropped after them.
public struct CapturedOutput: Hashable, Sendable {
    public var bytes: [UInt8]
    public var droppedBytes: Int

    public init(bytes: [UInt8] = [], droppedBytes: Int = 0) {
        self.bytes = bytes
        self.droppedBytes = droppedBytes
    }

    /// The kept bytes as text (invalid UTF-8 repaired); never trust it on a command line.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// How running one command on a host ended. Only `.ok` means the command ran and reported an exit status.
public enum CommandOutcome: Hashable, Sendable {
    case ok(exit: Int32, stdout: CapturedOutput, stderr: CapturedOutput, duration: Duration)
    case connectFailed(String)
    case timeout(String)
    case authFailed(String)
    case hostkeyUnknown(String)
    /// The host presented another key than the pinned one (fingerprints of both).
    case hostkeyMismatch(expected: String, presented: String)
    case protocolError(String)
    case killedBySignal(signal: String, stdout: CapturedOutput, stderr: CapturedOutput)
    case noExitStatus(String)

    /// Stable name of the outcome, as used in JSON and the journal.
    public var kind: String {
        switch self {
        case .ok: return "ok"
        case .connectFailed: return "connect_failed"
        case .timeout: return "timeout"
        case .authFailed: return "auth_failed"
        case .hostkeyUnknown: return "hostkey_unknown"
        case .hostkeyMismatch: return "hostkey_mismatch"
        case .protocolError: return "protocol_error"
        case .killedBySignal: return "killed_by_signal"
        case .noExitStatus: return "no_exit_status"
        }
    }
}

/// What `stage` puts on a host: a verified local file, to a place on the host.
public struct StageRequest: Hashable, Sendable {
    /// The verified file in the daemon's cache (`<state>/artifacts/sha256/<sha256>`).
    public var localPath: String
    /// Directory, final name and temporary name on the host.
    public var placement: ArtifactPlacement
    public var size: Int64
    /// Lowercase hex SHA-256 the host must find in the file before it gets its final name.
    public var sha256: String

    public init(localPath: String, placement: ArtifactPlacement, size: Int64, sha256: String) {
        self.localPath = localPath
        self.placement = placement
        self.size = size
        self.sha256 = sha256
    }
}

/// How a `stage` ended.
public enum StageOutcome: Hashable, Sendable {
    /// The host holds the file under its final name and itself found the right SHA-256 in it.
    /// `uploadedBytes` is 0 when it already held it and nothing was sent.
    case staged(uploadedBytes: Int64, duration: Duration)
    /// The host or the local file said no in a way that a retry will not change (a command exited
    /// non-zero, the host found another hash, the local file is missing): stable `kind` and a message.
    case refused(kind: String, message: String)
    /// The connection failed or a deadline passed: the final name was not touched by this attempt, and a
    /// partial upload can only be under the temporary name. Safe to send again.
    case interrupted(CommandOutcome)
}

/// An open, authenticated connection to one host; several commands may run on it, one after another.
public protocol RemoteSession: Sendable {
    /// Runs one command on its own channel; never longer than `timeout`.
    func run(_ command: String, timeout: Duration) async -> CommandOutcome
    /// Puts a file on the host (see ``StageOutcome``); never longer than `timeout`.
    func stage(_ request: StageRequest, timeout: Duration) async -> StageOutcome
    /// Closes the connection. Safe to call twice.
    func close() async
}

/// The port through which the engine runs commands on hosts (libssh2 in production, fakes in tests).
public protocol RemoteExecutor: Sendable {
    /// Connects, checks the pinned host key and authenticates. On failure the outcome says why
    /// (`connectFailed`, `timeout`, `authFailed`, `hostkeyUnknown`, `hostkeyMismatch`, `protocolError`).
    func connect(to host: RemoteHost) async -> Result<any RemoteSession, RemoteConnectError>
}

/// Why a connection could not be made; wraps the failing outcome.
public struct RemoteConnectError: Error, Hashable, Sendable {
    public var outcome: CommandOutcome

    public init(_ outcome: CommandOutcome) { self.outcome = outcome }
}
