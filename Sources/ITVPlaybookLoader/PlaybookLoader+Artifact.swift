import Foundation
import ITVCore

extension PlaybookLoader {
    static let artifactKeys = [
        "url", "allow_http", "max_size", "checksums", "sha256_from_feed", "signature", "name",
    ]
    static let checksumKeys = ["url", "format", "select"]
    static let signatureKeys = ["url", "kind", "keyring", "public_key"]

    /// The `artifact:` block. `file` is the playbook's path: a relative `keyring` is taken relative to it.
    static func readArtifact(_ node: YNode, _ r: YAMLReader, file: String) -> ArtifactSpec? {
        guard let f = r.mapping(node, "artifact", known: artifactKeys) else { return nil }
        let before = r.problems
        let allowHTTP = f["allow_http"].map { r.bool($0, "artifact.allow_http") } ?? false
        let url = required(f, "url", r, in: "artifact").flatMap { n -> String? in
            guard let url = r.string(n, "artifact.url") else { return nil }
            checkTemplateURL(url, "artifact.url", allowHTTP: allowHTTP ?? false, at: n.location, r)
            return url
        }
        var maxSize = ArtifactSpec.defaultMaxSize
        if let n = f["max_size"] {
            if case .scalar(let text) = n, !text.isNull, let size = ByteSize.parse(text.value), size > 0 {
                maxSize = size
            } else {
                r.error(n.location, "artifact.max_size must be a size such as 2GiB, 500MiB or a number of bytes")
            }
        }
        var name: String?
        if let n = f["name"], let text = r.string(n, "artifact.name") {
            let sample = ArtifactSpec.expand(text, version: "1.0")
            if !ArtifactSpec.isValidFileName(sample) || hasStrayTemplate(sample) {
                r.error(
                    n.location,
                    "artifact.name '\(escapedForMessage(text))' must be a file name: letters, digits and ._+-~ "
                        + "(and {{version}}), not starting with '.' or '-'")
            }
            name = text
        }
        if name == nil, let url, r.problems == before {
            let segment = ArtifactSpec.lastSegment(of: ArtifactSpec.expand(url, version: "1.0"))
            if !ArtifactSpec.isValidFileName(segment) {
                r.error(
                    f.keyLocation("url"),
                    "the last path segment of artifact.url ('\(escapedForMessage(segment))') is not a usable file "
                        + "name; set artifact.name")
            }
        }

        var source: ArtifactChecksumSource?
        switch (f["checksums"], f["sha256_from_feed"]) {
        case (nil, nil):
            r.error(
                f.location,
                "artifact needs the expected SHA-256: checksums: {url: ..., format: sha256sum} or "
                    + "{url: ..., format: json, select: ...}")
        case (.some, .some):
            r.error(f.keyLocation("sha256_from_feed"), "artifact: use either checksums or sha256_from_feed, not both")
        case (.some(let n), nil):
            source = readChecksums(n, r, allowHTTP: allowHTTP ?? false)
        case (nil, .some(let n)):
            // A json path inside the feed entry that announces the version; the playbook loader checks that the
            // feed is a json feed (`checkDigestFeed`).
            if let path = r.string(n, "artifact.sha256_from_feed") {
                if path.isEmpty || path.unicodeScalars.count > 200
                    || path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
                    || path.hasPrefix("[*]") || path.contains("{{")
                {
                    r.error(
                        n.location,
                        "artifact.sha256_from_feed must be a json path of 1 to 200 printable characters inside the "
                            + "feed entry (e.g. sha256 or hashes.sha256), found '\(escapedForMessage(path))'")
                } else {
                    source = .feed(select: path)
                }
            }
        }
        let signature = f["signature"].flatMap { readSignature($0, r, allowHTTP: allowHTTP ?? false, file: file) }
        if signature != nil, case .feed = source {
            r.error(f.keyLocation("signature"), "artifact.signature signs a checksum file; sha256_from_feed has none")
        }
        if r.problems == before, case .sha256sum = source, let url,
            ChecksumFile.entryName(ofURL: ArtifactSpec.expand(url, version: "1.0")) == nil
        {
            r.error(
                f.keyLocation("url"),
                "the last path segment of artifact.url ('\(escapedForMessage(ArtifactSpec.lastSegment(of: url)))') "
                    + "does not name a file once percent-decoded (empty, '..', a bad %-escape, '/', '\\' or a "
                    + "control character), so no checksum list entry can name it; use checksums format json")
        }
        guard r.problems == before, let url, let allowHTTP, let source else { return nil }
        return ArtifactSpec(
            url: url, allowHTTP: allowHTTP, maxSize: maxSize, checksums: source, signature: signature, name: name)
    }

    /// `sha256_from_feed` reads a field of the json feed entry that announces the version: the playbook needs a
    /// json feed whose `select` ends with a key (the entry is the object holding it). Returns the feed with the
    /// path to read (`FeedSpec.digestSelect`).
    static func checkDigestFeed(_ feed: FeedSpec?, _ artifact: ArtifactSpec, _ f: Fields, _ r: YAMLReader) -> FeedSpec?
    {
        guard case .feed(let path) = artifact.checksums else { return feed }
        guard var feed, feed.kind == .json else {
            r.error(
                f.keyLocation("artifact"),
                "artifact.sha256_from_feed needs a json feed (feed.kind: json, found "
                    + "\(feed.map { $0.kind.rawValue } ?? "no feed")); otherwise use artifact.checksums")
            return feed
        }
        let select = feed.select ?? "version"
        if select.hasSuffix("]") {
            r.error(
                f.keyLocation("artifact"),
                "artifact.sha256_from_feed needs feed.select to end with a key (e.g. releases[*].version): the entry "
                    + "is the object holding it; '\(escapedForMessage(select))' ends with an index")
            return feed
        }
        feed.digestSelect = path
        return feed
    }

    private static func readChecksums(_ node: YNode, _ r: YAMLReader, allowHTTP: Bool) -> ArtifactChecksumSource? {
        guard let f = r.mapping(node, "artifact.checksums", known: checksumKeys) else { return nil }
        let url = required(f, "url", r, in: "artifact.checksums").flatMap { n -> String? in
            guard let url = r.string(n, "artifact.checksums.url") else { return nil }
            checkTemplateURL(url, "artifact.checksums.url", allowHTTP: allowHTTP, at: n.location, r)
            return url
        }
        let format = required(f, "format", r, in: "artifact.checksums").flatMap { n -> String? in
            guard let text = r.string(n, "artifact.checksums.format") else { return nil }
            guard ["sha256sum", "json"].contains(text) else {
                r.error(
                    n.location,
                    "artifact.checksums.format must be one of sha256sum, json, found '\(escapedForMessage(text))'")
                return nil
            }
            return text
        }
        let select = f["select"].flatMap { r.string($0, "artifact.checksums.select") }
        guard let url, let format else { return nil }
        if format == "json" {
            guard let select else {
                r.error(f.location, "artifact.checksums.select is required for format json: the path of the digest")
                return nil
            }
            return .json(url: url, select: select)
        }
        if f["select"] != nil {
            r.error(f.keyLocation("select"), "artifact.checksums.select is only for format json")
            return nil
        }
        return .sha256sum(url: url)
    }

    private static func readSignature(_ node: YNode, _ r: YAMLReader, allowHTTP: Bool, file: String)
        -> ArtifactSignature?
    {
        guard let f = r.mapping(node, "artifact.signature", known: signatureKeys) else { return nil }
        let url = required(f, "url", r, in: "artifact.signature").flatMap { n -> String? in
            guard let url = r.string(n, "artifact.signature.url") else { return nil }
            checkTemplateURL(url, "artifact.signature.url", allowHTTP: allowHTTP, at: n.location, r)
            return url
        }
        let kind = required(f, "kind", r, in: "artifact.signature").flatMap { r.string($0, "artifact.signature.kind") }
        guard let url, let kind else { return nil }
        switch kind {
        case "gpg":
            if f["public_key"] != nil {
                r.error(
                    f.keyLocation("public_key"), "artifact.signature.public_key is for kind minisign; gpg uses keyring")
            }
            guard let n = required(f, "keyring", r, in: "artifact.signature"),
                let path = r.string(n, "artifact.signature.keyring")
            else { return nil }
            let base = (file as NSString).deletingLastPathComponent
            let keyring = ConfigLoader.resolve(path, base: base.isEmpty ? "." : base)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: keyring, isDirectory: &isDirectory), !isDirectory.boolValue
            else {
                r.error(
                    n.location,
                    "artifact.signature.keyring: no keyring file at \(escapedForMessage(keyring)) (export one with "
                        + "gpg --export KEYID > FILE)")
                return nil
            }
            return .gpg(url: url, keyring: keyring)
        case "minisign":
            if f["keyring"] != nil {
                r.error(
                    f.keyLocation("keyring"), "artifact.signature.keyring is for kind gpg; minisign uses public_key")
            }
            guard let n = required(f, "public_key", r, in: "artifact.signature"),
                let key = r.string(n, "artifact.signature.public_key")
            else { return nil }
            guard let bytes = Data(base64Encoded: key), bytes.count == 42, bytes.prefix(2) == Data("Ed".utf8) else {
                r.error(
                    n.location,
                    "artifact.signature.public_key must be a minisign public key (the base64 line of minisign.pub, "
                        + "starting RW)")
                return nil
            }
            return .minisign(url: url, publicKey: key)
        default:
            r.error(
                f["kind"]?.location ?? f.location,
                "artifact.signature.kind must be one of gpg, minisign, found '\(escapedForMessage(kind))'")
            return nil
        }
    }

    /// A URL template: `{{version}}` is the only variable; the URL with a version filled in must be https
    /// (http with allow_http) and name a host.
    private static func checkTemplateURL(
        _ url: String, _ what: String, allowHTTP: Bool, at location: SourceLocation, _ r: YAMLReader
    ) {
        let sample = ArtifactSpec.expand(url, version: "1.0")
        if hasStrayTemplate(sample) {
            r.error(location, "\(what): {{version}} is the only variable a URL may use")
            return
        }
        guard let components = URLComponents(string: sample), let scheme = components.scheme?.lowercased() else {
            r.error(location, "\(what) is not a valid URL: '\(escapedForMessage(url))'")
            return
        }
        switch scheme {
        case "https": break
        case "http" where allowHTTP: break
        case "http":
            r.error(
                location, "\(what) uses plain http; use https, or set artifact.allow_http: true for an internal mirror")
            return
        default:
            r.error(location, "\(what) must be https (or http with allow_http), found '\(escapedForMessage(scheme))'")
            return
        }
        if (components.host ?? "").isEmpty { r.error(location, "\(what) has no host: '\(escapedForMessage(url))'") }
    }

    private static func hasStrayTemplate(_ text: String) -> Bool { text.contains("{{") || text.contains("}}") }
}
