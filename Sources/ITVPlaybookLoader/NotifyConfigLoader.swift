import Foundation
import ITVCore

/// `notify:` in itvd.yaml: a list of sinks, each checked with file:line:column, including the mode of its
/// secret or credentials file (a key others can read is no secret).
enum NotifyConfigLoader {
    static let keys = [
        "name", "kind", "events", "tenants", "url", "secret_file", "smtp", "from", "to", "credentials_file",
        "allow_plain",
    ]

    static func read(_ node: YNode, _ r: YAMLReader, base: String) -> [NotifySink] {
        guard case .sequence(let items, _) = node else {
            r.error(node.location, "notify must be a list of sinks, found \(r.describe(node))")
            return []
        }
        var sinks: [NotifySink] = []
        var names: Set<String> = []
        for item in items {
            guard let f = r.mapping(item, "a notify sink", known: keys) else { continue }
            guard let nameNode = f["name"], let name = r.string(nameNode, "notify name") else {
                r.error(f.location, "a notify sink needs a name")
                continue
            }
            guard Playbook.isValidID(name) else {
                r.error(
                    nameNode.location,
                    "notify name '\(escapedForMessage(name))' must use lowercase letters, digits and '-'")
                continue
            }
            guard names.insert(name).inserted else {
                r.error(nameNode.location, "notify sink '\(name)' is declared twice")
                continue
            }
            let what = "notify sink '\(name)'"
            guard let kindNode = f["kind"], let kindText = r.string(kindNode, "\(what) kind") else {
                r.error(f.location, "\(what) needs a kind (webhook or email)")
                continue
            }
            guard let kind = NotifySinkKind(rawValue: kindText) else {
                r.error(
                    kindNode.location, "\(what) kind must be webhook or email, found '\(escapedForMessage(kindText))'")
                continue
            }
            var events: Set<NotifyEvent> = []
            if let n = f["events"], let list = r.stringList(n, "\(what) events") {
                for e in list {
                    if e.value == "all" {
                        events.formUnion(NotifyEvent.subscribable)
                    } else if let event = NotifyEvent(rawValue: e.value), event != .test {
                        events.insert(event)
                    } else {
                        r.error(
                            e.location,
                            "\(what): unknown event '\(escapedForMessage(e.value))'"
                                + Suggest.didYouMean(e.value, NotifyEvent.subscribable.map(\.rawValue) + ["all"]))
                    }
                }
                if list.isEmpty { r.error(n.location, "\(what) has no events: list some, or [all]") }
            } else if f["events"] == nil {
                r.error(f.location, "\(what) has no events: list some, or [all]")
            }
            let tenants = f["tenants"].flatMap { r.stringList($0, "\(what) tenants") }.map { $0.map(\.value) }
            let allowPlain = f["allow_plain"].flatMap { r.bool($0, "\(what) allow_plain") } ?? false
            var sink = NotifySink(
                name: name, kind: kind, events: events, tenants: tenants, url: "", allowPlain: allowPlain)
            func file(_ key: String) -> String? {
                guard let n = f[key], let p = r.string(n, "\(what) \(key)") else { return nil }
                let path = ConfigLoader.resolve(p, base: base)
                checkSecret(path, at: n.location, what: "\(what) \(key)", r)
                return path
            }
            switch kind {
            case .webhook:
                for key in ["smtp", "from", "to", "credentials_file"] where f[key] != nil {
                    r.error(f.keyLocation(key), "\(what): \(key) is for kind email, not webhook")
                }
                guard let n = f["url"], let url = r.string(n, "\(what) url") else {
                    r.error(f.location, "\(what) needs a url")
                    continue
                }
                checkURL(url, schemes: allowPlain ? ["https", "http"] : ["https"], at: n.location, what: what, r)
                sink.url = url
                sink.secretFile = file("secret_file")
            case .email:
                for key in ["url", "secret_file"] where f[key] != nil {
                    r.error(f.keyLocation(key), "\(what): \(key) is for kind webhook, not email")
                }
                guard let n = f["smtp"], let url = r.string(n, "\(what) smtp") else {
                    r.error(f.location, "\(what) needs an smtp server (smtp://host:587 or smtps://host:465)")
                    continue
                }
                checkURL(url, schemes: ["smtp", "smtps"], at: n.location, what: what, r)
                sink.url = url
                if let n = f["from"], let from = r.string(n, "\(what) from") {
                    if !isAddress(from) {
                        r.error(n.location, "\(what) from '\(escapedForMessage(from))' is not a mail address")
                    }
                    sink.from = from
                } else {
                    r.error(f.location, "\(what) needs a from address")
                }
                if let n = f["to"], let to = r.stringList(n, "\(what) to") {
                    for a in to where !isAddress(a.value) {
                        r.error(a.location, "\(what) to '\(escapedForMessage(a.value))' is not a mail address")
                    }
                    if to.isEmpty { r.error(n.location, "\(what) needs at least one to address") }
                    sink.to = to.map(\.value)
                } else if f["to"] == nil {
                    r.error(f.location, "\(what) needs to: [addresses]")
                }
                sink.credentialsFile = file("credentials_file")
            }
            sinks.append(sink)
        }
        return sinks
    }

    static func checkURL(_ url: String, schemes: [String], at location: SourceLocation, what: String, _ r: YAMLReader) {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), let host = c.host, !host.isEmpty,
            url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            r.error(location, "\(what): '\(escapedForMessage(url))' is not a URL")
            return
        }
        guard schemes.contains(scheme) else {
            let plain = scheme == "http" ? " (http only with allow_plain: true)" : ""
            r.error(location, "\(what): the URL must be \(schemes.joined(separator: " or ")), not \(scheme)\(plain)")
            return
        }
    }

    /// A mail address as far as a configuration check can tell: something@something, no spaces or brackets.
    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty && text.count <= 254
            && text.unicodeScalars.allSatisfy {
                $0.value > 0x20 && $0.value < 0x7F && !"<>,;\"()".unicodeScalars.contains($0)
            }
    }

    /// The file must exist, be a regular file, and be readable by its owner only (0600 or 0400).
    static func checkSecret(_ path: String, at location: SourceLocation, what: String, _ r: YAMLReader) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            r.error(location, "\(what) \(path) cannot be read: \(String(cString: strerror(errno)))")
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            r.error(location, "\(what) \(path) is not a regular file")
            return
        }
        if st.st_mode & 0o077 != 0 {
            r.error(
                location,
                "\(what) \(path) has mode \(String(st.st_mode & 0o777, radix: 8)): others may read it; chmod 600 it")
        }
    }
}
