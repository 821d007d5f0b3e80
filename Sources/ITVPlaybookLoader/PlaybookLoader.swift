import Foundation
import ITVCore

/// Reads one playbook (`apiVersion: itv/v1`) into the model; every problem becomes a diagnostic with
/// file, line and column. Cross-references to the inventory and config are checked by `SetValidator`.
public enum PlaybookLoader {
    static let topKeys = ["apiVersion", "id", "name", "vendor", "targets", "feed", "steps", "rollout", "artifact"]
    static let feedKeys = ["kind", "url", "select", "match", "scheme", "prereleases", "every", "allow_http", "min_age"]
    static let stepKeys = [
        "detect", "install", "verify", "rollback", "timeout", "idempotent", "artifact_dir", "exit_codes", "reboot",
        "reboot_command", "reboot_timeout", "user_check",
    ]
    static let rolloutKeys = [
        "auto_plan", "waves", "max_failures", "on_failure", "window", "retry_unreached", "reach_deadline",
        "max_unreached",
    ]
    static let waveKeys = ["name", "size", "hosts", "group", "approval", "approvals", "bake", "parallel"]

    /// Reads a playbook file; with `directory`, only when it resolves to a file inside that directory.
    public static func load(file: String, within directory: String? = nil) -> Loaded<Playbook> {
        switch FileInput.read(file, within: directory) {
        case .success(let bytes): return parse(bytes, file: file)
        case .failure(let d): return Loaded(value: nil, diagnostics: [d])
        }
    }

    public static func parse(_ bytes: [UInt8], file: String) -> Loaded<Playbook> {
        let root: YNode
        switch YAMLComposer.compose(bytes, file: file, limits: .playbook) {
        case .success(let node): root = node
        case .failure(let d): return Loaded(value: nil, diagnostics: [d])
        }
        let r = YAMLReader()
        let playbook = read(root, r, file: file)
        if playbook == nil, r.diagnostics.isEmpty {
            r.error(root.location, "the playbook could not be read (no specific problem was found; please report this)")
        }
        return Loaded(value: r.diagnostics.isEmpty ? playbook : nil, diagnostics: r.diagnostics)
    }

    private static func read(_ root: YNode, _ r: YAMLReader, file: String) -> Playbook? {
        guard let f = r.mapping(root, "the playbook", known: topKeys) else { return nil }
        var keyLocations: [String: SourceLocation] = [:]
        for (key, entry) in f.entries { keyLocations[key] = entry.keyLocation }

        if let node = f["apiVersion"] {
            if let v = r.string(node, "apiVersion"), v != Playbook.apiVersion {
                r.error(node.location, "apiVersion must be '\(Playbook.apiVersion)', found '\(escapedForMessage(v))'")
            }
        } else {
            r.error(f.location, "missing key 'apiVersion' (write: apiVersion: \(Playbook.apiVersion))")
        }
        let id = required(f, "id", r).flatMap { node -> String? in
            guard let id = r.string(node, "id") else { return nil }
            guard Playbook.isValidID(id) else {
                r.error(
                    node.location,
                    "id '\(escapedForMessage(id))' is not a valid procedure id: use lowercase "
                        + "letters, digits and '-', starting with a letter or digit, at most 63 characters")
                return nil
            }
            return id
        }
        let name = required(f, "name", r).flatMap { r.string($0, "name") }
        let vendor = required(f, "vendor", r).flatMap { r.string($0, "vendor") }
        let targets = required(f, "targets", r).flatMap { node -> [Located<String>]? in
            guard let list = r.stringList(node, "targets") else { return nil }
            if list.isEmpty { r.error(node.location, "targets must name at least one group or host") }
            return list
        }
        var feed = f["feed"].flatMap { readFeed($0, r) }
        // `{{artifact}}` needs the playbook's `artifact:` block: whether one is written is read from the tree,
        // so that this check does not depend on how the block itself is read.
        let steps = required(f, "steps", r).flatMap {
            readSteps($0, r, &keyLocations, hasArtifact: f["artifact"] != nil)
        }
        let rollout = required(f, "rollout", r).flatMap { readRollout($0, r, steps: steps, &keyLocations) }

        let artifact = f["artifact"].flatMap { readArtifact($0, r, file: file) }
        if let artifact, f["feed"] == nil || feed != nil { feed = checkDigestFeed(feed, artifact, f, r) }

        guard let id, let name, let vendor, let targets, let steps, let rollout else { return nil }
        if f["feed"] != nil && feed == nil { return nil }
        if f["artifact"] != nil && artifact == nil { return nil }
        return Playbook(
            id: id, name: name, vendor: vendor, targets: targets, feed: feed, steps: steps, rollout: rollout,
            origin: f.location, keyLocations: keyLocations, artifact: artifact)
    }

    static func required(_ f: Fields, _ key: String, _ r: YAMLReader, in what: String = "the playbook") -> YNode? {
        guard let node = f[key] else {
            r.error(f.location, "missing key '\(key)' in \(what)")
            return nil
        }
        return node
    }

    private static func readFeed(_ node: YNode, _ r: YAMLReader) -> FeedSpec? {
        guard let f = r.mapping(node, "feed", known: feedKeys) else { return nil }
        let before = r.problems
        let kind = required(f, "kind", r, in: "feed").flatMap { r.enumValue($0, "feed.kind", FeedKind.self) }
        let url = required(f, "url", r, in: "feed").flatMap { r.string($0, "feed.url") }
        let select = f["select"].flatMap { r.string($0, "feed.select") }
        let match = f["match"].flatMap { r.string($0, "feed.match") }
        let scheme = f["scheme"].map { r.enumValue($0, "feed.scheme", VersionScheme.self) } ?? .dotted
        let prereleases = f["prereleases"].map { r.bool($0, "feed.prereleases") } ?? false
        let every = f["every"].map { r.timeSpan($0, "feed.every") } ?? TimeSpan(seconds: 3_600)
        let allowHTTP = f["allow_http"].map { r.bool($0, "feed.allow_http") } ?? false
        let minAge = f["min_age"].map { r.timeSpan($0, "feed.min_age") } ?? .zero

        if let url, let allowHTTP, let node = f["url"] { checkURL(url, allowHTTP: allowHTTP, at: node.location, r) }
        if let every, every.seconds < 60, let node = f["every"] {
            r.error(node.location, "feed.every must be at least 1m: polling a vendor more often is impolite")
        }
        if let match, let node = f["match"] { checkRegex(match, at: node.location, r) }
        if let kind {
            switch kind {
            case .json where f["select"] == nil:
                r.error(f.location, "feed.select is required for kind json: the path of the version (a.b[0].c)")
            case .html where f["match"] == nil, .text where f["match"] == nil:
                r.error(
                    f.location,
                    "feed.match is required for kind \(kind.rawValue): a regular expression with a "
                        + "named group 'version'")
            case .atom, .rss, .github:
                if let select, !["title", "id", "link", "content"].contains(select), let node = f["select"] {
                    r.error(
                        node.location,
                        "feed.select for kind \(kind.rawValue) must be title, id, link or content, "
                            + "found '\(escapedForMessage(select))'")
                }
            default:
                break
            }
        }
        guard r.problems == before, let kind, let url, let scheme, let prereleases, let every, let allowHTTP,
            let minAge
        else { return nil }
        return FeedSpec(
            kind: kind, url: url, select: select, match: match, scheme: scheme, prereleases: prereleases,
            every: every, allowHTTP: allowHTTP, minAge: minAge)
    }

    private static func checkURL(_ url: String, allowHTTP: Bool, at location: SourceLocation, _ r: YAMLReader) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            r.error(location, "feed.url is not a valid URL: '\(escapedForMessage(url))'")
            return
        }
        switch scheme {
        case "https", "file":
            break
        case "http" where allowHTTP:
            break
        case "http":
            r.error(location, "feed.url uses plain http; use https, or set allow_http: true for an internal mirror")
        default:
            r.error(location, "feed.url must be https (or http with allow_http, or file), found '\(scheme)'")
        }
        if scheme != "file", (components.host ?? "").isEmpty {
            r.error(location, "feed.url has no host: '\(escapedForMessage(url))'")
        }
    }

    private static func checkRegex(_ pattern: String, at location: SourceLocation, _ r: YAMLReader) {
        do {
            _ = try NSRegularExpression(pattern: pattern)
        } catch {
            r.error(location, "feed.match is not a valid regular expression: '\(escapedForMessage(pattern))'")
            return
        }
        if !pattern.contains("(?<version>") && !pattern.contains("(?P<version>") {
            r.error(location, "feed.match must have a named group 'version', e.g. (?<version>\\d+(\\.\\d+)*)")
        }
    }
}
