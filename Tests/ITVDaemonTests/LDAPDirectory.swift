import Foundation
import Testing

/// A real Debian `slapd` with the test directory of `scripts/ldap/test-directory.py` (two municipalities'
/// computers under the Active Directory schema, StartTLS with a test CA), run as this test's child on a free
/// loopback port and stopped by PID. Run its tests under the machine-wide e2e lock.
final class LDAPDirectory: @unchecked Sendable {
    struct Info: Decodable {
        var port: Int
        var slapd: [String]
        var ca: String
        var otherCa: String
        var passwordFile: String
        var bindDn: String
        var adminDn: String
        var adminPassword: String
    }

    let dir: String
    let info: Info
    private var process: ServerProcess?
    private let lock = NSLock()

    var url: String { "ldap://127.0.0.1:\(info.port)" }
    var log: String { dir + "/slapd.log" }

    /// Makes the directory (`options` go to the script, e.g. `--computers 800`), then starts slapd.
    init(_ options: [String] = []) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("itv-ldap-\(UUID().uuidString)").path
        let made = try runProgram(
            "/usr/bin/python3", [ServerProcess.repository + "/scripts/ldap/test-directory.py", dir] + options)
        guard made.status == 0 else {
            throw E2EFailure(description: "test-directory.py exited \(made.status): \(made.stderr)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        info = try decoder.decode(Info.self, from: Data(made.stdout.utf8))
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Starts slapd in the foreground and waits until its port accepts connections.
    func start() throws {
        let p = try ServerProcess(info.slapd[0], Array(info.slapd.dropFirst()), log: log)
        lock.withLock { process = p }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let status = p.exitStatus {
                throw E2EFailure(description: "slapd exited \(status): \(logText.suffix(2000))")
            }
            if Self.accepts(port: info.port) { return }
            usleep(50_000)
        }
        throw E2EFailure(description: "slapd did not listen within 60 s: \(logText.suffix(2000))")
    }

    /// SIGTERM to the slapd this test started (SIGKILL after 20 s), and waits for it.
    func stop() {
        lock.withLock({ process })?.stop(grace: .seconds(20))
        lock.withLock { process = nil }
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Deletes an entry with Debian's `ldapdelete`, over StartTLS, as the directory's administrator.
    func delete(_ dn: String) throws {
        let r = try runProgram(
            "/usr/bin/env",
            [
                "LDAPTLS_CACERT=\(info.ca)", "/usr/bin/ldapdelete", "-ZZ", "-H", url, "-x", "-D", info.adminDn, "-w",
                info.adminPassword, dn,
            ])
        guard r.status == 0 else { throw E2EFailure(description: "ldapdelete \(dn): \(r.stderr)") }
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// A loopback port nothing listens on (for "unreachable").
    static func closedPort() -> Int {
        let (fd, port) = boundLoopbackSocket(listening: false)
        close(fd)
        return port
    }

    /// A loopback socket that listens and never answers (the kernel completes the handshake): a directory
    /// that hangs. Its descriptor and port; close the descriptor when done.
    static func silentListener() -> (fd: Int32, port: Int) { boundLoopbackSocket(listening: true) }

    /// A TCP socket bound to an ephemeral port of 127.0.0.1, listening when asked: its descriptor and port.
    private static func boundLoopbackSocket(listening: Bool) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && (!listening || listen(fd, 128) == 0) && getsockname(fd, $0, &length) == 0
            }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// One `ldap:` source of an inventory, in YAML (a list item), with this directory's url, CA and account.
    func source(
        _ name: String, base: String, extra: [String] = [], password: String? = nil, ca: String? = nil,
        url: String? = nil
    ) -> String {
        let lines =
            [
                "  - name: \(name)", "    url: \(url ?? self.url)", "    ca_file: \(ca ?? info.ca)",
                "    bind_dn: \"\(info.bindDn)\"", "    password_file: \(password ?? info.passwordFile)",
                "    base: \"\(base)\"",
            ] + extra.map { "    " + $0 }
        return lines.joined(separator: "\n")
    }
}
