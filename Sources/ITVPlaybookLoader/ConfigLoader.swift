import Foundation
import ITVCore

/// Reads the daemon configuration (`/etc/itvd/itvd.yaml`). Every key has a default; relative paths are
/// taken relative to the directory of the configuration file.
public enum ConfigLoader {
    static let topKeys = [
        "playbooks", "inventory", "state", "socket", "ssh", "parallel", "operators", "readers", "windows",
        "metrics", "notify", "wake_on_lan", "artifacts",
    ]
    static let sshKeys = ["identity", "known_hosts", "connect_timeout"]
    static let artifactsKeys = ["max_bytes", "upload_rate"]

    public static func load(file: String) -> Loaded<DaemonConfig> {
        switch FileInput.read(file) {
        case .success(let bytes): return parse(bytes, file: file)
        case .failure(let d): return Loaded(value: nil, diagnostics: [d])
        }
    }

    public static func parse(_ bytes: [UInt8], file: String) -> Loaded<DaemonConfig> {
        let root: YNode
        switch YAMLComposer.compose(bytes, file: file, limits: .config) {
        case .success(let node): root = node
        case .failure(let d): return Loaded(value: nil, diagnostics: [d])
        }
        let r = YAMLReader()
        let base = ((file as NSString).deletingLastPathComponent as NSString).standardizingPath
        let config = read(root, r, base: base.isEmpty ? "." : base)
        return Loaded(value: r.diagnostics.isEmpty ? config : nil, diagnostics: r.diagnostics)
    }

    static func read(_ root: YNode, _ r: YAMLReader, base: String) -> DaemonConfig? {
        guard let f = r.mapping(root, "the configuration", known: topKeys) else { return nil }
        var c = DaemonConfig()
        func path(_ key: String) -> String? {
            guard let node = f[key], let p = r.string(node, key) else { return nil }
            return resolve(p, base: base)
        }
        if let p = path("playbooks") { c.playbooks = p }
        if let p = path("inventory") { c.inventory = p }
        if let p = path("state") { c.state = p }
        if let p = path("socket") { c.socket = p }
        if let n = f["ssh"], let s = r.mapping(n, "ssh", known: sshKeys) {
            if let p = s["identity"].flatMap({ r.string($0, "ssh.identity") }) {
                c.ssh.identity = resolve(p, base: base)
            }
            if let p = s["known_hosts"].flatMap({ r.string($0, "ssh.known_hosts") }) {
                c.ssh.knownHosts = resolve(p, base: base)
            }
            if let t = s["connect_timeout"].flatMap({ r.timeSpan($0, "ssh.connect_timeout") }) {
                c.ssh.connectTimeout = t
            }
        }
        if let n = f["parallel"], let p = r.int(n, "parallel", range: 1...4_096) { c.parallel = p }
        if let n = f["operators"], let g = r.stringList(n, "operators") { c.operators = g.map(\.value) }
        if let n = f["readers"], let g = r.stringList(n, "readers") { c.readers = g.map(\.value) }
        if let n = f["windows"] {
            for (name, location, value) in r.namedEntries(n, "windows") {
                guard Playbook.isValidID(name) else {
                    r.error(
                        location, "window name '\(escapedForMessage(name))' must use lowercase letters, digits and '-'")
                    continue
                }
                var window = WindowSpec(name: name)
                if case .scalar(let s) = value, s.isNull {
                    c.windows[name] = window
                    continue
                }
                guard let w = r.mapping(value, "window '\(escapedForMessage(name))'", known: ["duration"]) else {
                    continue
                }
                if let d = w["duration"].flatMap({ r.timeSpan($0, "window '\(escapedForMessage(name))' duration") }) {
                    if d.seconds < 60 {
                        r.error(
                            w.keyLocation("duration"),
                            "window '\(escapedForMessage(name))' duration must be at least 1m")
                    }
                    window.duration = d
                }
                c.windows[name] = window
            }
        }
        if let n = f["metrics"] {
            c.metricsListen = .default
            if case .scalar(let s) = n, s.isNull {
            } else if let m = r.mapping(n, "metrics", known: ["listen"]), let l = m["listen"],
                let text = r.string(l, "metrics.listen")
            {
                if let listen = MetricsListen.parse(text) {
                    c.metricsListen = listen
                } else {
                    r.error(
                        l.location,
                        "metrics.listen '\(escapedForMessage(text))' must be IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464"
                    )
                }
            }
        }
        if let n = f["notify"] { c.notify = NotifyConfigLoader.read(n, r, base: base) }
        if let n = f["wake_on_lan"] { c.wakeOnLAN = readWakeOnLAN(n, r, "wake_on_lan") }
        if let n = f["artifacts"], let a = r.mapping(n, "artifacts", known: artifactsKeys) {
            func size(_ key: String, _ example: String, minimum: Int64) -> Int64? {
                guard let node = a[key] else { return nil }
                guard case .scalar(let s) = node, !s.isNull, let bytes = ByteSize.parse(s.value), bytes >= minimum
                else {
                    r.error(
                        node.location,
                        "artifacts.\(key) must be a size such as \(example) or a number of bytes, found "
                            + r.describe(node))
                    return nil
                }
                return bytes
            }
            if let b = size("max_bytes", "20GiB", minimum: 1) { c.artifacts.maxBytes = b }
            if let b = size("upload_rate", "10MiB (per second; 0: unlimited)", minimum: 0) {
                c.artifacts.uploadRate = b
            }
        }
        return c
    }

    static let wakeOnLANKeys = ["address", "port", "lead"]

    /// `wake_on_lan: {address: 10.1.255.255, port: 9, lead: 5m}`: an IPv4 address (the hosts' broadcast
    /// address), a UDP port, the time between the packet and the run.
    static func readWakeOnLAN(_ node: YNode, _ r: YAMLReader, _ what: String) -> WakeOnLAN? {
        guard let m = r.mapping(node, what, known: wakeOnLANKeys) else { return nil }
        guard let a = m["address"] else {
            r.error(node.location, "\(what): missing key 'address' (the hosts' broadcast address, e.g. 10.1.255.255)")
            return nil
        }
        guard let address = r.string(a, "\(what).address") else { return nil }
        guard isIPv4(address) else {
            r.error(
                a.location,
                "\(what).address '\(escapedForMessage(address))' must be an IPv4 address, e.g. 10.1.255.255")
            return nil
        }
        var wake = WakeOnLAN(address: address)
        if let p = m["port"].flatMap({ r.int($0, "\(what).port", range: 1...65_535) }) { wake.port = p }
        if let l = m["lead"].flatMap({ r.timeSpan($0, "\(what).lead") }) { wake.lead = l }
        return wake
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { p in
                !p.isEmpty && p.count <= 3 && p.allSatisfy { $0.isASCII && $0.isNumber } && (Int(p) ?? 256) <= 255
            }
    }

    static func resolve(_ path: String, base: String) -> String {
        path.hasPrefix("/") ? path : ((base as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }
}
