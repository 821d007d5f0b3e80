import CLibSSH2
import Foundation

/// One line of a known_hosts file that itv can use to pin a host key: plain host names or a hashed
/// (`|1|salt|hash`) name, a key type and the key.
struct KnownHostsEntry: Hashable, Sendable {
    var lineNumber: Int
    /// The line as written, handed to `libssh2_knownhost_readline` for the actual check.
    var line: String
    var keyType: String
    var keyBase64: String

    /// `SHA256:...` of the pinned key, as OpenSSH prints it.
    var fingerprint: String {
        guard let blob = Data(base64Encoded: keyBase64) else { return "(undecodable key)" }
        return KnownHosts.fingerprint(ofKeyBlob: Array(blob))
    }
}

/// What a known_hosts file says about one host.
struct KnownHostsLookup: Sendable {
    /// Plain and hashed entries for the host, in file order.
    var entries: [KnownHostsEntry]
    /// Lines that name the host in a way libssh2 would not honour (markers, wildcards, negations).
    var unsupported: [String]

    /// Host key algorithms for `libssh2_session_method_pref`, in file order, only those libssh2 1.10 can verify
    /// against OpenSSH 8.8+ (docs/TECH-NOTES.md 1, 2).
    var hostKeyMethods: [String] {
        var seen: [String] = []
        for entry in entries where KnownHosts.usableKeyTypes.contains(entry.keyType) && !seen.contains(entry.keyType) {
            seen.append(entry.keyType)
        }
        return seen
    }
}

/// A parsed OpenSSH known_hosts file. Matching follows OpenSSH: a host on port 22 is looked up by its
/// address, any other port as `[address]:port`, never both (docs/TECH-NOTES.md 3).
struct KnownHosts: Sendable {
    static let usableKeyTypes: Set<String> = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    ]

    private struct Line: Sendable {
        var number: Int
        var text: String
        var marker: String?
        var patterns: [String]
        var keyType: String
        var keyBase64: String
    }

    private var lines: [Line] = []

    init(text: String) {
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            var fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var marker: String?
            if let first = fields.first, first.hasPrefix("@") {
                marker = first
                fields.removeFirst()
            }
            guard fields.count >= 3 else { continue }
            lines.append(
                Line(
                    number: number, text: trimmed, marker: marker,
                    patterns: fields[0].split(separator: ",").map(String.init),
                    keyType: fields[1], keyBase64: fields[2]))
        }
    }

    /// The name OpenSSH looks a host up by.
    static func hostField(address: String, port: Int) -> String {
        port == 22 ? address : "[\(address)]:\(port)"
    }

    func lookup(address: String, port: Int) -> KnownHostsLookup {
        let name = Self.hostField(address: address, port: port).lowercased()
        var result = KnownHostsLookup(entries: [], unsupported: [])
        for line in lines {
            var exact = false
            var special = false
            for pattern in line.patterns {
                if pattern.hasPrefix("|1|") {
                    if Self.hashedPattern(pattern, matches: name) { exact = true }
                } else if pattern.hasPrefix("!") || pattern.contains("*") || pattern.contains("?") {
                    let body = pattern.hasPrefix("!") ? String(pattern.dropFirst()) : pattern
                    if fnmatch(body.lowercased(), name, 0) == 0 { special = true }
                } else if pattern.lowercased() == name {
                    exact = true
                }
            }
            guard exact || special else { continue }
            if let marker = line.marker {
                result.unsupported.append("line \(line.number) (\(marker))")
            } else if special {
                result.unsupported.append("line \(line.number) (wildcard or negated pattern)")
            } else {
                result.entries.append(
                    KnownHostsEntry(
                        lineNumber: line.number, line: line.text, keyType: line.keyType, keyBase64: line.keyBase64))
            }
        }
        return result
    }

    /// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
    static func hashedPattern(_ pattern: String, matches name: String) -> Bool {
        let parts = pattern.split(separator: "|", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[0] == "1", let salt = Data(base64Encoded: String(parts[1])),
            let hash = Data(base64Encoded: String(parts[2]))
        else { return false }
        var out = [UInt8](repeating: 0, count: 20)
        let nameBytes = Array(name.utf8)
        let ok = salt.withUnsafeBytes { saltPtr in
            itv_hmac_sha1(saltPtr.baseAddress, salt.count, nameBytes, nameBytes.count, &out)
        }
        return ok == 1 && Array(hash) == out
    }

    /// OpenSSH's `SHA256:<unpadded base64>` fingerprint of a public key blob.
    static func fingerprint(ofKeyBlob blob: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        guard itv_sha256(blob, blob.count, &digest) == 1 else { return "(no digest)" }
        return fingerprint(sha256: digest)
    }

    static func fingerprint(sha256 digest: [UInt8]) -> String {
        var text = Data(digest).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return "SHA256:" + text
    }
}

/// Re-reads a known_hosts file only when it changed (size or modification time), so that 800 connections
/// do not parse it 800 times.
final class KnownHostsCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: (path: String, size: Int, sec: Int, nsec: Int, hosts: KnownHosts)?

    /// The parsed file, or why it cannot be read.
    func load(path: String) -> Result<KnownHosts, SSHFailure> {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            return .failure(SSHFailure(.hostkeyUnknown, "cannot read known_hosts file \(path): \(reason)"))
        }
        let key = (path, Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec))
        lock.lock()
        defer { lock.unlock() }
        if let c = cached, c.path == key.0, c.size == key.1, c.sec == key.2, c.nsec == key.3 {
            return .success(c.hosts)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(SSHFailure(.hostkeyUnknown, "cannot read known_hosts file \(path)"))
        }
        let hosts = KnownHosts(text: String(decoding: data, as: UTF8.self))
        cached = (key.0, key.1, key.2, key.3, hosts)
        return .success(hosts)
    }
}
