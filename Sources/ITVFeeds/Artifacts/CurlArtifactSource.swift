import Foundation
import ITVCore
import ITVEngine

/// The production `ArtifactSource`: fetches the checksum document (and its signature) with the feed fetcher,
/// checks the signature (minisign with OpenSSL, gpg with `gpgv`), takes the expected SHA-256 from it, and
/// streams the artifact into the content-addressed cache, hashing as it goes.
///
/// The cache is `<directory>/sha256/<lowercase hex>`. A download goes to `<directory>/sha256/.partial-<random>`
/// (the same directory, so the rename is atomic), is flushed to disk, and is renamed to its final name only
/// when its digest is the expected one; the directory is flushed after the rename. A file with a final name
/// is therefore always complete and verified; `.partial-*` leftovers of a crash are removed at start.
public final class CurlArtifactSource: ArtifactSource, Sendable {
    /// The checksum document's cap: a vendor's SHA256SUMS is a few KiB; 1 MiB holds ~10,000 entries.
    public static let maxChecksumBytes = 1 << 20
    /// A detached signature is a few hundred bytes.
    public static let maxSignatureBytes = 64 * 1024

    private let fetcher: CurlFeedFetcher
    public let directory: String
    private let gpgv: String

    public init(fetcher: CurlFeedFetcher, directory: String, gpgv: String = "/usr/bin/gpgv") throws {
        self.fetcher = fetcher
        self.directory = directory
        self.gpgv = gpgv
        try FileManager.default.createDirectory(
            atPath: directory + "/sha256", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        removeLeftovers()
    }

    /// Removes `.partial-*` files (a download a crash interrupted) and scratch directories.
    public func removeLeftovers() {
        let dir = directory + "/sha256"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(".") {
            try? FileManager.default.removeItem(atPath: dir + "/" + name)
        }
    }

    public func cachedFile(sha256: String) -> String? {
        guard ChecksumFile.hexDigest(sha256) == sha256 else { return nil }
        let path = directory + "/sha256/" + sha256
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The verified files of the cache (final names only, never `.partial-*`).
    private func cachedFiles() -> [(name: String, size: Int64, mtime: Int)] {
        let dir = directory + "/sha256"
        var files: [(name: String, size: Int64, mtime: Int)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        where ChecksumFile.hexDigest(name) == name {
            var st = stat()
            guard stat(dir + "/" + name, &st) == 0 else { continue }
            files.append((name, Int64(st.st_size), st.st_mtim.tv_sec))
        }
        return files
    }

    public func cachedSizes() -> [String: Int64] {
        Dictionary(cachedFiles().map { ($0.name, $0.size) }, uniquingKeysWith: { first, _ in first })
    }

    public func trim(maxBytes: Int64, keep: Set<String>) -> (removed: [String], bytes: Int64) {
        let dir = directory + "/sha256"
        let files = cachedFiles()
        var total = files.reduce(0) { $0 + $1.size }
        var removed: [String] = []
        for file in files.sorted(by: { ($0.mtime, $0.name) < ($1.mtime, $1.name) }) where total > maxBytes {
            guard !keep.contains(file.name), unlink(dir + "/" + file.name) == 0 else { continue }
            total -= file.size
            removed.append(file.name)
        }
        if !removed.isEmpty { syncDirectory(dir) }
        return (removed, total)
    }

    public func obtain(_ request: ArtifactRequest) async -> ArtifactOutcome {
        let spec = request.spec
        let url = spec.url(for: request.version)
        let name = spec.fileName(for: request.version)
        var verifiedBy: String
        let expected: String
        switch await expectedDigest(request) {
        case .failure(let f): return f.outcome
        case .success(let (digest, by)):
            expected = digest
            verifiedBy = by
        }
        if let signature = spec.signature { verifiedBy += "+" + signature.kind }
        if let path = cachedFile(sha256: expected), let size = fileSize(path) {
            guard size <= spec.maxSize else {
                return .rejected(
                    ArtifactRejection("too_large", "\(url): \(size) bytes, more than max_size \(spec.maxSize)"))
            }
            return .verified(
                VerifiedArtifact(
                    url: url, name: name, size: size, sha256: expected, verifiedBy: verifiedBy, downloaded: false))
        }
        return await download(url: url, name: name, spec: spec, expected: expected, verifiedBy: verifiedBy)
    }

    private enum Stop: Error {
        case rejected(ArtifactRejection)
        case failed(FeedFetchError)

        var outcome: ArtifactOutcome {
            switch self {
            case .rejected(let r): return .rejected(r)
            case .failed(let f): return .failed(f)
            }
        }
    }

    /// The expected digest and what vouched for it.
    private func expectedDigest(_ request: ArtifactRequest) async -> Result<(String, String), Stop> {
        let spec = request.spec
        let version = request.version
        switch spec.checksums {
        case .feed(let select):
            guard let given = request.feedSHA256 else {
                return .failure(
                    .rejected(
                        ArtifactRejection(
                            "missing_entry", "the feed entry of \(version) has no SHA-256 at '\(select)'")))
            }
            guard let digest = ChecksumFile.hexDigest(given) else {
                return .failure(
                    .rejected(
                        ArtifactRejection(
                            "bad_checksums",
                            "the feed entry of \(version) gives '\(escapedForMessage(given))' at '\(select)', "
                                + "not a SHA-256 (64 hex digits)")))
            }
            return .success((digest, "feed"))
        case .sha256sum(let template), .json(let template, _):
            let documentURL = ArtifactSpec.expand(template, version: version)
            let document: [UInt8]
            switch await small(
                documentURL, allowHTTP: spec.allowHTTP, cap: Self.maxChecksumBytes, what: "checksum file")
            {
            case .failure(let stop): return .failure(stop)
            case .success(let bytes): document = bytes
            }
            if let signature = spec.signature {
                let signatureURL = ArtifactSpec.expand(signature.url, version: version)
                let sig: [UInt8]
                switch await small(
                    signatureURL, allowHTTP: spec.allowHTTP, cap: Self.maxSignatureBytes, what: "signature")
                {
                case .failure(let stop): return .failure(stop)
                case .success(let bytes): sig = bytes
                }
                let problem: String?
                switch signature {
                case .minisign(_, let key):
                    problem = SignatureVerifier.minisign(publicKey: key, signature: sig, document: document)
                case .gpg(_, let keyring):
                    problem = await SignatureVerifier.gpg(
                        keyring: keyring, signature: sig, document: document,
                        work: directory + "/sha256/.gpg-\(UInt64.random(in: 0...UInt64.max))", gpgv: gpgv)
                }
                if let problem {
                    return .failure(
                        .rejected(
                            ArtifactRejection(
                                "bad_signature",
                                "\(signature.kind) signature \(signatureURL) over \(documentURL): \(problem)"
                            )))
                }
            }
            if case .json(_, let select) = spec.checksums {
                return jsonDigest(document, select: select, version: version, url: documentURL).map { ($0, "json") }
            }
            let url = spec.url(for: version)
            guard let name = ChecksumFile.entryName(ofURL: url) else {
                return .failure(
                    .rejected(
                        ArtifactRejection(
                            "missing_entry",
                            "\(documentURL) cannot have an entry for \(escapedForMessage(url, limit: 300)): its last path segment "
                                + "is not a plain file name once percent-decoded")))
            }
            switch ChecksumFile.sha256(for: name, in: document) {
            case .success(let digest): return .success((digest, "sha256sum"))
            case .failure(.missingEntry(_, let entries, let malformed)):
                return .failure(
                    .rejected(
                        ArtifactRejection(
                            "missing_entry",
                            "\(documentURL) has no entry for \(escapedForMessage(name, limit: 255)) (\(entries) entries, "
                                + "\(malformed) lines not entries)"
                        )))
            case .failure(.conflictingEntries):
                return .failure(
                    .rejected(
                        ArtifactRejection(
                            "conflicting_entries",
                            "\(documentURL) lists \(escapedForMessage(name, limit: 255)) twice with different digests"))
                )
            }
        }
    }

    private func jsonDigest(_ document: [UInt8], select: String, version: String, url: String) -> Result<String, Stop> {
        func reject(_ why: String) -> Result<String, Stop> {
            .failure(.rejected(ArtifactRejection("bad_checksums", "\(url): \(why)")))
        }
        let selectText = select.replacingOccurrences(of: "{{version}}", with: version)
        let path: JSONPath
        do { path = try JSONPath(parsing: selectText) } catch { return reject("\(error)") }
        if let error = FeedExtractor.countJSONValues(String(decoding: document, as: UTF8.self), max: 200_000) {
            return reject("\(error)")
        }
        guard let root = try? JSONSerialization.jsonObject(with: Data(document), options: [.fragmentsAllowed]) else {
            return reject("not valid JSON")
        }
        let values = path.evaluate(root)
        guard values.count == 1, let text = values[0] as? String else {
            if values.isEmpty {
                return .failure(
                    .rejected(ArtifactRejection("missing_entry", "\(url): '\(selectText)' selects nothing")))
            }
            return reject("'\(selectText)' must select exactly one string, it selects \(values.count) value(s)")
        }
        guard let digest = ChecksumFile.hexDigest(text) else {
            return reject("'\(selectText)' is not a SHA-256 (64 hex digits)")
        }
        return .success(digest)
    }

    /// A small document (checksums, signature), under the feed rules.
    private func small(_ url: String, allowHTTP: Bool, cap: Int, what: String) async -> Result<[UInt8], Stop> {
        let response = await fetcher.fetch(FeedRequest(url: url, allowHTTP: allowHTTP, maxBodyBytes: cap))
        switch response {
        case .fetched(let document): return .success(document.body)
        case .notModified:
            return .failure(.failed(FeedFetchError(.protocolError, "\(url) answered 304 to an unconditional request")))
        case .failed(let error):
            return .failure(policy(error, what: what))
        }
    }

    /// Which fetch failures reject the release (the vendor's side is not what the playbook says it must be) and
    /// which are tried again later (the network, the server's mood).
    private func policy(_ error: FeedFetchError, what: String) -> Stop {
        switch error.kind {
        case .tooLarge, .redirectRefused, .insecureURL, .invalidURL:
            return .rejected(ArtifactRejection(error.kind.rawValue, "\(what): \(error.message)"))
        default:
            return .failed(error)
        }
    }

    private func download(url: String, name: String, spec: ArtifactSpec, expected: String, verifiedBy: String) async
        -> ArtifactOutcome
    {
        let temp = directory + "/sha256/.partial-\(UInt64.random(in: 0...UInt64.max))"
        let sink: ArtifactSink
        do { sink = try ArtifactSink(creating: temp) } catch {
            return .failed(FeedFetchError(.io, error.description))
        }
        defer { unlink(temp) }
        let request = FeedRequest(
            url: url, allowHTTP: spec.allowHTTP, totalTimeout: .seconds(6 * 3_600),
            maxBodyBytes: Int(clamping: spec.maxSize))
        switch await fetcher.download(request, into: sink) {
        case .failed(let error):
            if error.kind == .tooLarge {
                return .rejected(
                    ArtifactRejection(
                        "too_large", "\(url) is larger than max_size (\(ByteSize.describe(spec.maxSize)))"))
            }
            if case .rejected(let r) = policy(error, what: "artifact") { return .rejected(r) }
            return .failed(error)
        case .notModified:
            return .failed(FeedFetchError(.protocolError, "\(url) answered 304 to an unconditional request"))
        case .fetched:
            break
        }
        let actual: String
        do { actual = try sink.finish() } catch { return .failed(FeedFetchError(.io, error.description)) }
        guard actual == expected else {
            return .rejected(
                ArtifactRejection(
                    "checksum_mismatch",
                    "\(url): SHA-256 \(actual) of the \(sink.count) bytes downloaded is not \(expected), which the "
                        + "\(verifiedBy) source gives", expected: expected, actual: actual))
        }
        let final = directory + "/sha256/" + actual
        guard rename(temp, final) == 0 else {
            return .failed(FeedFetchError(.io, "cannot rename into \(final): \(String(cString: strerror(errno)))"))
        }
        syncDirectory(directory + "/sha256")
        return .verified(
            VerifiedArtifact(
                url: url, name: name, size: sink.count, sha256: actual, verifiedBy: verifiedBy, downloaded: true))
    }

    private func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    private func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
