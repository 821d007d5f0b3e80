import Foundation
import ITVEngine

/// The fields `select` can pick from one Atom entry or RSS item.
public struct FeedEntry: Hashable, Sendable {
    public var title: String?
    public var id: String?
    /// Resolved against `xml:base` and the document's URL.
    public var link: String?
    public var content: String?

    /// The release tag of a GitHub releases.atom entry: the last path part of `/releases/tag/<tag>`, else of the id.
    public var githubTag: String? {
        if let link, let r = link.range(of: "/releases/tag/") {
            let tag = String(link[r.upperBound...])
            return tag.removingPercentEncoding ?? tag
        }
        if let id, let slash = id.lastIndex(of: "/") { return String(id[id.index(after: slash)...]) }
        return nil
    }

    public func field(_ select: String) -> String? {
        switch select {
        case "title": return title
        case "id": return id
        case "link": return link
        case "content": return content
        default: return nil
        }
    }
}

/// Atom 1.0 and 0.3, RSS 0.91/0.92/2.0 and RSS 1.0 (RDF): whichever the root element says.
public enum FeedEntries {
    static let atom10 = "http://www.w3.org/2005/Atom"
    static let atom03 = "http://purl.org/atom/ns#"

    public static func read(_ root: XMLNode, documentURL: String) -> Result<[FeedEntry], FeedParseError> {
        let base = resolve(root.attribute("xml:base"), against: documentURL)
        switch root.localName {
        case "feed":
            return .success(root.children("entry").map { atomEntry($0, base: base) })
        case "rss":
            let items = root.children("item") + (root.child("channel")?.children("item") ?? [])
            return .success(items.map { rssItem($0, base: base) })
        case "RDF":
            let items = root.children("item") + (root.child("channel")?.children("item") ?? [])
            return .success(items.map { rssItem($0, base: base) })
        default:
            return .failure(
                FeedParseError(
                    .notAFeed,
                    "the document is not a feed: its root element is <\(root.name.prefix(40))>, "
                        + "not an Atom <feed>, an RSS <rss> or an RSS 1.0 <rdf:RDF>"))
        }
    }

    private static func atomEntry(_ e: XMLNode, base parentBase: String) -> FeedEntry {
        let base = resolve(e.attribute("xml:base"), against: parentBase)
        let links = e.children("link")
        let link = links.first { ($0.attribute("rel") ?? "alternate") == "alternate" } ?? links.first
        var href: String?
        if let link {
            let linkBase = resolve(link.attribute("xml:base"), against: base)
            if let h = link.attribute("href") {
                href = resolve(h, against: linkBase)
            } else {
                href = trimmed(link.innerText)
            }
        }
        return FeedEntry(
            title: own(e, "title").map { trimmed($0.innerText) }, id: own(e, "id").map { trimmed($0.innerText) },
            link: href, content: (own(e, "content") ?? own(e, "summary")).map { trimmed($0.innerText) })
    }

    private static func rssItem(_ e: XMLNode, base: String) -> FeedEntry {
        let link = own(e, "link").map { resolve(trimmed($0.innerText), against: base) }
        let content =
            e.children.first { $0.name == "content:encoded" || $0.localName == "encoded" } ?? own(e, "description")
        return FeedEntry(
            title: own(e, "title").map { trimmed($0.innerText) },
            id: own(e, "guid").map { trimmed($0.innerText) } ?? e.attribute("rdf:about") ?? link,
            link: link, content: content.map { trimmed($0.innerText) })
    }

    /// The un-prefixed child of that name (so `media:title` never stands in for `title`), else any.
    private static func own(_ e: XMLNode, _ name: String) -> XMLNode? {
        e.children.first { $0.name == name } ?? e.children.first { $0.localName == name }
    }

    static func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    static func resolve(_ ref: String?, against base: String) -> String {
        guard let ref else { return base }
        guard let baseURL = URL(string: base), let url = URL(string: ref, relativeTo: baseURL) else {
            return ref.isEmpty ? base : ref
        }
        return url.absoluteString
    }
}
