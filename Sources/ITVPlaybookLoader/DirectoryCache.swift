import Foundation
import ITVCore
import ITVDirectory

#if canImport(Glibc)
    import Glibc
#endif

/// The last entries read from each `ldap:` source, kept in the state directory (`<state>/directory/<name>.json`,
/// mode 0600 in a 0700 directory), so that itvd starts and reloads with the hosts it read last when a
/// directory cannot be reached (unreachable, TLS, timeout, another failure to talk to it). A directory that
/// answers "no" (wrong password, no such base, a bad filter, too many entries) is not replaced: that is a
/// problem to fix, not an outage to ride out. A kept read is used only for the same search (`fingerprint`:
/// URL, base, filter, attributes, bind DN); the hosts are mapped from its entries with the inventory's
/// current settings, as from a fresh read.
public struct DirectoryCache: Sendable {
    public let directory: String

    public init(stateDirectory: String) { directory = stateDirectory + "/directory" }

    /// The largest kept read that is read back (100,000 entries of about 1 KB, and room).
    static let maxBytes = 256 << 20
    static let format = 1

    struct File: Codable {
        var format: Int
        var read: DirectoryRead
    }

    func path(_ source: String) -> String { directory + "/" + source + ".json" }

    /// Whether a failure of this kind is ridden out with the kept read.
    static func ridesOut(_ kind: LDAPReadError.Kind) -> Bool {
        switch kind {
        case .unreachable, .tls, .timeout, .failed: return true
        case .credentials, .noSuchBase, .badFilter, .tooManyEntries, .tooLarge, .refused: return false
        }
    }

    /// Why no kept read can stand in for a source.
    struct Unusable: Error {
        var why: String
        init(_ why: String) { self.why = why }
    }

    /// The kept read of `source`, or why there is none that can stand in for it.
    func load(_ source: DirectorySource) -> Result<DirectoryRead, Unusable> {
        let file = path(source.name)
        guard FileManager.default.fileExists(atPath: file) else { return .failure(Unusable("no earlier read is kept")) }
        let bytes: [UInt8]
        switch FileInput.read(file, maxBytes: Self.maxBytes) {
        case .failure(let d): return .failure(Unusable("the kept read \(file) cannot be used: \(d.message)"))
        case .success(let b): bytes = b
        }
        guard let kept = try? JSONDecoder().decode(File.self, from: Data(bytes)), kept.format == Self.format,
            kept.read.source == source.name
        else { return .failure(Unusable("the kept read \(file) cannot be used: not a read of this source")) }
        guard kept.read.fingerprint == source.fingerprint else {
            return .failure(
                Unusable("the kept read is of another search (url, base, filter, attributes or bind_dn changed)"))
        }
        return .success(kept.read)
    }

    /// Keeps each read durably (a temporary file, fsync, rename, fsync of the directory), replacing the
    /// source's earlier one. Returns what could not be kept (the daemon journals it; it stops nothing).
    public func save(_ reads: [DirectoryRead]) -> [String] {
        guard !reads.isEmpty else { return [] }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            return ["cannot create \(directory): \(String(cString: strerror(errno)))"]
        }
        var problems: [String] = []
        for read in reads {
            let file = path(read.source)
            let temporary = file + ".new"
            guard let data = try? JSONEncoder().encode(File(format: Self.format, read: read)),
                data.count <= Self.maxBytes
            else {
                problems.append("the read of ldap source '\(read.source)' is too large to keep")
                continue
            }
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else {
                problems.append("cannot write \(temporary): \(String(cString: strerror(errno)))")
                continue
            }
            var written = 0
            data.withUnsafeBytes { raw in
                while written < raw.count {
                    let n = write(fd, raw.baseAddress! + written, raw.count - written)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    written += n
                }
            }
            let synced = fsync(fd) == 0
            close(fd)
            guard written == data.count, synced, rename(temporary, file) == 0 else {
                problems.append("cannot write \(file): \(String(cString: strerror(errno)))")
                unlink(temporary)
                continue
            }
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        return problems
    }
}

extension DirectorySource {
    /// What the search asks, as a SHA-256: a kept read stands in only for the same search.
    var fingerprint: String {
        let fields = [
            url, base, filter, attributes.map { $0.lowercased() }.sorted().joined(separator: ","), bindDN ?? "",
        ]
        return SHA256.hexDigest(Array(fields.joined(separator: "\n").utf8))
    }
}

extension DirectoryEntry {
    init(_ entry: LDAPEntry) { self.init(dn: entry.dn, attributes: entry.attributes) }
}

extension LDAPEntry {
    init(_ entry: DirectoryEntry) { self.init(dn: entry.dn, attributes: entry.attributes) }
}
