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
    /// `metrics.listen`: where Prometheus scrapes `GET /metrics` over TCP; nil: only `GET /v1/metrics`
    /// on the control socket.
    public var metricsListen: MetricsListen? = nil
    /// `notify:`: where notifications of rollouts, releases and feeds go.
    public var notify: [NotifySink] = []
    /// `wake_on_lan:`: where Wake-on-LAN packets go for hosts with a MAC address (a tenant may set its own).
    public var wakeOnLAN: WakeOnLAN? = nil

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

/// A TCP address for the metrics listener (`127.0.0.1:9464`, `[::1]:9464`).
public struct MetricsListen: Hashable, Sendable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public static let `default` = MetricsListen(host: "127.0.0.1", port: 9464)

    /// Parses `HOST:PORT` (IPv6 in brackets). Only IP literals and `localhost`: a DNS name would make the
    /// listening address depend on the resolver.
    public static func parse(_ text: String) -> MetricsListen? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            let ipv4 =
                parts.count == 4
                && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCII) && (UInt8(p) != nil) }
            guard ipv4 || host == "localhost" else { return nil }
        }
        guard portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
            (0...65_535).contains(port)
        else { return nil }
        return MetricsListen(host: String(host), port: port)
    }

    /// The address as written in the configuration.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
