import Foundation
import ITVCore

/// How the control socket is served.
public struct ControlServerConfig: Sendable {
    /// Where the socket file is made (unless systemd passes one).
    public var socketPath: String
    /// Unix groups whose members may change things (root always may). `ControlServer.updateAuthorization`
    /// replaces them while the server runs.
    public var operatorGroups: [String]
    /// Unix groups whose members may read. The socket file belongs to the first one that exists (when the
    /// server makes it).
    public var readerGroups: [String]
    /// The tenants' own `operators:` and `readers:` (from the inventory).
    public var tenantGrants: [TenantGrant] = []
    /// Largest request body accepted from root and operators; larger ones get `payload_too_large`.
    public var maxBodyBytes: Int
    /// Largest request body accepted from callers who may only read (their routes take no body).
    public var maxReaderBodyBytes: Int = 16 << 10
    /// A client must send a whole request within this time after connecting (or after the previous
    /// response); otherwise it gets `timeout` and is disconnected.
    public var requestDeadline: Duration
    /// Connections served at once; more get `unavailable` and are disconnected.
    public var maxConnections: Int
    /// Of `maxConnections`, how many only root and operators may use: users who may only read (and those
    /// who may not even read) together hold at most `maxConnections - operatorReserve`.
    public var operatorReserve: Int = 32
    /// Connections one uid may hold at once (root: no limit but `maxConnections`).
    public var maxConnectionsPerUser: Int = 32
    /// `rollout watch` streams one uid may hold at once (root: no limit).
    public var maxWatchesPerUser: Int = 8
    /// Requests of callers who may only read that are answered at once; the others wait their turn (up to
    /// `requestDeadline`, then `unavailable`). Bounds the memory of many large answers at once.
    public var maxConcurrentReads: Int = 4
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
    /// The daemon's settings: `socket`, `operators` and `readers` of itvd.yaml and the tenants' groups of the
    /// inventory, other limits at their defaults.
    public init(
        _ daemon: DaemonConfig, inventory: Inventory = Inventory(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.init(
            socketPath: daemon.socket, operatorGroups: daemon.operators, readerGroups: daemon.readers,
            environment: environment)
        tenantGrants = AuthorizationPolicy.grants(inventory)
    }
}
