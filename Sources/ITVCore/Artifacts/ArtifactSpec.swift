/// A size in bytes written as `2GiB`, `500MiB`, `64KiB` or a plain count of bytes (`max_size`, `max_bytes`,
/// `upload_rate`).
public enum ByteSize {
    /// Parses `N`, `NKiB`, `NMiB`, `NGiB`, `NTiB` (also `KB`/`MB`/`GB`/`TB` as powers of 1000, and a plain `B`).
    /// At most 2^62 bytes; nil for anything else.
    public static func parse(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        var digits = Substring(text)
        var factor: Int64 = 1
        for (suffix, f) in units where text.hasSuffix(suffix) {
            digits = text.dropLast(suffix.count)
            factor = f
            break
        }
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.asciiDigit != nil }),
            !(digits.hasPrefix("0") && digits.count > 1), let n = Int64(digits)
        else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: factor)
        guard !overflow, product <= (1 << 62) else { return nil }
        return product
    }

    /// `2GiB`-style text for a count of bytes (exact when it is a multiple of a binary unit).
    public static func describe(_ bytes: Int64) -> String {
        for (suffix, f) in [("TiB", Int64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= f && bytes % f == 0 {
            return "\(bytes / f)\(suffix)"
        }
        return "\(bytes)"
    }
}

/// Where the expected SHA-256 of an artifact comes from (exactly one per playbook).
public enum ArtifactChecksumSource: Hashable, Sendable {
    /// A `SHA256SUMS`-style file (`<hex>  <name>` per line); the entry is chosen by the artifact's file name
    /// (the last path segment of its URL).
    case sha256sum(url: String)
    /// A JSON document; `select` is a path (`a.b[0].c`) to the hex digest.
    case json(url: String, select: String)
    /// A field of the feed entry that announced the version (`select` path into a json feed's entry).
    case feed(select: String)

    /// The checksum document's URL template, if there is one.
    public var url: String? {
        switch self {
        case .sha256sum(let url), .json(let url, _): return url
        case .feed: return nil
        }
    }
}

/// A signature over the checksum document.
public enum ArtifactSignature: Hashable, Sendable {
    /// An OpenPGP detached signature, checked with `gpgv` against `keyring` (an absolute path, a keyring
    /// exported with `gpg --export`).
    case gpg(url: String, keyring: String)
    /// A minisign signature (Ed25519), checked against `publicKey` (the base64 line of a `minisign.pub`).
    case minisign(url: String, publicKey: String)

    public var url: String {
        switch self {
        case .gpg(let url, _), .minisign(let url, _): return url
        }
    }

    /// `gpg` or `minisign`.
    public var kind: String {
        switch self {
        case .gpg: return "gpg"
        case .minisign: return "minisign"
        }
    }
}

/// The `artifact:` block of a playbook: the vendor's installer that itvd downloads once, verifies, and
/// puts on the hosts.
public struct ArtifactSpec: Hashable, Sendable {
    /// Default `max_size`: 2 GiB.
    public static let defaultMaxSize: Int64 = 2 << 30

    /// URL template; `{{version}}` is the only variable.
    public var url: String
    public var allowHTTP: Bool
    /// The download stops (and the release is rejected) beyond this many bytes.
    public var maxSize: Int64
    public var checksums: ArtifactChecksumSource
    public var signature: ArtifactSignature?
    /// The file name on the host; nil: the last path segment of the URL.
    public var name: String?

    public init(
        url: String, allowHTTP: Bool = false, maxSize: Int64 = ArtifactSpec.defaultMaxSize,
        checksums: ArtifactChecksumSource, signature: ArtifactSignature? = nil, name: String? = nil
    ) {
        self.url = url
        self.allowHTTP = allowHTTP
        self.maxSize = maxSize
        self.checksums = checksums
        self.signature = signature
        self.name = name
    }

    /// `template` with every `{{version}}` (also `{{ version }}`) replaced by `version`. The version has passed
    /// the scheme's character gate (letters, digits, `._+~:-!`), so it needs no escaping beyond `+`, `:` and
    /// `!`, which are percent-encoded so that they stay part of one path segment.
    public static func expand(_ template: String, version: String) -> String {
        var encoded = ""
        for ch in version.unicodeScalars {
            switch ch {
            case "+": encoded += "%2B"
            case ":": encoded += "%3A"
            case "!": encoded += "%21"
            default: encoded.unicodeScalars.append(ch)
            }
        }
        return template.replacingAll("{{ version }}", with: encoded).replacingAll("{{version}}", with: encoded)
    }

    /// The artifact's URL for `version`.
    public func url(for version: String) -> String { Self.expand(url, version: version) }

    /// The file name on the host for `version`: `name`, else the URL's last path segment (query and
    /// fragment dropped, percent-escapes kept as written).
    public func fileName(for version: String) -> String {
        if let name { return Self.expand(name, version: version) }
        return Self.lastSegment(of: url(for: version))
    }

    /// The last path segment of a URL, without query or fragment.
    public static func lastSegment(of url: String) -> String {
        var path = Substring(url)
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<q] }
        return String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
    }

    /// True when `name` is usable as a file name on every host OS: 1-255 bytes of ASCII letters, digits and
    /// `._+-~`, not starting with `.` or `-`.
    public static func isValidFileName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 255, first != ".", first != "-" else {
            return false
        }
        return name.unicodeScalars.allSatisfy { s in
            ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
                || "._+-~%".unicodeScalars
                    .contains(s)
        }
    }
}

extension String {
    /// Every occurrence of `target` replaced (ITVCore imports nothing, so no Foundation).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
