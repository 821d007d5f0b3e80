/// SSH settings of the daemon.
public struct SSHConfig: Hashable, Sendable {
    public var identity: String
    public var knownHosts: String
    public var connectTimeout: TimeSpan

    public init(
        identity: String = "/etc/itvd/ssh/id_ed25519", knownHosts: String = "/etc/itvd/ssh/known_hosts",
        connectTimeout: TimeSpan = TimeSpan(seconds: 10)
    ) {
        self.identity = identity
        self.knownHosts = knownHosts
        self.connectTimeout = connectTimeout
    }
}

/// A named patch window.
public struct WindowSpec: Hashable, Sendable {
    public var name: String
    /// How long the window stays open when opened without an explicit duration.
    public var duration: TimeSpan

    public init(name: String, duration: TimeSpan = TimeSpan(seconds: 4 * 3_600)) {
        self.name = name
        self.duration = duration
    }
}

/// `/etc/itvd/itvd.yaml`. Every key has a default.
public struct DaemonConfig: Hashable, Sendable {
    public var playbooks: String
    public var inventory: String
    public var state: String
    public var socket: String
    public var ssh: SSHConfig
    /// Global cap on concurrent SSH sessions.
    public var parallel: Int
    /// Unix groups whose members may change things (root always may).
    public var operators: [String]
    /// Unix groups whose members may read.
    public var readers: [String]
    public var windows: [String: WindowSpec]

    public init(
        playbooks: String = "/etc/itvd/playbooks", inventory: String = "/etc/itvd/inventory.yaml",
        state: String = "/var/lib/itvd", socket: String = "/run/itvd/itvd.sock", ssh: SSHConfig = SSHConfig(),
        parallel: Int = 64, operators: [String] = ["itv-operators"], readers: [String] = ["itv"],
        windows: [String: WindowSpec] = [:]
    ) {
        self.playbooks = playbooks
        self.inventory = inventory
        self.state = state
        self.socket = socket
        self.ssh = ssh
        self.parallel = parallel
        self.operators = operators
        self.readers = readers
        self.windows = windows
    }
}
