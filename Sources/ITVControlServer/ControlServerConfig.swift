import Foundation
import ITVCore

/// How the control socket is served.
public struct ControlServerConfig: Sendable {
    /// Where the socket file is made (unless systemd passes one).
    public var socketPath: String
    /// Unix groups whose members may change things (root always may).
    public var operatorGroups: [String]
    /// Unix groups whose members may read. The socket file belongs to the first one that exists.
    public var readerGroups: [String]
    /// Largest request body accepted; larger ones get `payload_too_large`.
    public var maxBodyBytes: Int
    /// A client must send a whole request within this time after connecting (or after the previous
    /// response); otherwise it gets `timeout` and is disconnected.
    public var requestDeadline: Duration
    /// Connections served at once; more get `unavailable` and are disconnected.
    public var maxConnections: Int
    /// Take the listening socket systemd passes (`LISTEN_PID`/`LISTEN_FDS`) when there is one.
    public var allowSocketActivation: Bool
    /// Where `LISTEN_PID` and `LISTEN_FDS` are read from.
    public var environment: [String: String]
    /// The first descriptor systemd passes (`SD_LISTEN_FDS_START`, 3); settable for tests.
    public var activationFirstFD: Int32 = 3

    public init(
        socketPath: String, operatorGroups: [String], readerGroups: [String], maxBodyBytes: Int = 1 << 20,
        requestDeadline: Duration = .seconds(10), maxConnections: Int = 256, allowSocketActivation: Bool = true,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.socketPath = socketPath
        self.operatorGroups = operatorGroups
        self.readerGroups = readerGroups
        self.maxBodyBytes = maxBodyBytes
        self.requestDeadline = requestDeadline
        self.maxConnections = maxConnections
        self.allowSocketActivation = allowSocketActivation
        self.environment = environment
    }
}

extension ControlServerConfig {
    /// The daemon's settings: `socket`, `operators` and `readers` of itvd.yaml, other limits at their defaults.
    public init(_ daemon: DaemonConfig, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(
            socketPath: daemon.socket, operatorGroups: daemon.operators, readerGroups: daemon.readers,
            environment: environment)
    }
}
