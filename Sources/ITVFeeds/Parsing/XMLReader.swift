import Foundation
import ITVEngine

/// One element of a feed document, as a small tree.
public final class XMLNode: Sendable {
    /// The name as written (`dc:date`).
    public let name: String
    public let localName: String
    /// The namespace URI its prefix (or the default namespace) maps to; nil when undeclared or none.
    public let namespace: String?
    public let attributes: [(name: String, value: String)]
    public let children: [XMLNode]
    /// Direct character data (entities decoded, CDATA included).
    public let text: String

    init(name: String, namespace: String?, attributes: [(String, String)], children: [XMLNode], text: String) {
        self.name = name
        self.localName = name.split(separator: ":", maxSplits: 1).last.map(String.init) ?? name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    public func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name || $0.name.hasSuffix(":" + name) }?.value
    }

    /// Text of this element and all its descendants, in document order.
    public var innerText: String {
        children.isEmpty ? text : text + children.map(\.innerText).joined()
    }

    public func children(_ localName: String) -> [XMLNode] { children.filter { $0.localName == localName } }
    public func child(_ localName: String) -> XMLNode? { children.first { $0.localName == localName } }
}

/// A small, tolerant XML reader for feeds, written instead of using FoundationXML's XMLParser because:
/// it never reads a DTD, never resolves an external entity and refuses entity declarations outright (no
/// entity bomb is possible); it runs in time linear in the input with bounded depth; and it recovers the
/// way feed readers must from the sloppiness of real feeds (unescaped `&`, HTML entities such as `&nbsp;`,
/// an unclosed root, undeclared prefixes), reporting each as a warning instead of losing the feed.
public enum XMLReader {
    public static let maxDepth = 256

    public struct Document: Sendable {
        public var root: XMLNode
        public var warnings: [String]
    }

    /// Reads `text` into a tree. At most `maxElements` elements, and at most `maxEntries` Atom `entry` or RSS
    /// `item` elements (each is a candidate version): beyond either the document is refused as soon as the
    /// bound is crossed, before the rest of it is held in memory.
    public static func parse(
        _ text: String, maxElements: Int = FeedBounds.maxElements, maxEntries: Int = FeedBounds.maxCandidates
    ) -> Result<Document, FeedParseError> {
        var p = Parser(bytes: Array(text.utf8), maxElements: maxElements, maxEntries: maxEntries)
        return p.run()
    }
}

private struct Frame {
    var name: String
    var attributes: [(String, String)]
    var namespaces: [String: String]
    var children: [XMLNode] = []
    var text: [UInt8] = []
}

private struct Parser {
    let bytes: [UInt8]
    let maxElements: Int
    let maxEntries: Int
    var elements = 0
    var entries = 0
    var i = 0
    var stack: [Frame] = []
    var root: XMLNode?
    var warnings: [String] = []
    var warned: Set<String> = []

    init(bytes: [UInt8], maxElements: Int, maxEntries: Int) {
        self.bytes = bytes
        self.maxElements = maxElements
        self.maxEntries = maxEntries
    }

    mutating func warn(_ w: String) {
        if warned.insert(w).inserted, warnings.count < 20 { warnings.append(w) }
    }

    mutating func run() -> Result<XMLReader.Document, FeedParseError> {
        let n = bytes.count
        while i < n, root == nil {
            let c = bytes[i]
            if c != 0x3C {  // '<'
                let start = i
                while i < n, bytes[i] != 0x3C { i += 1 }
                if !stack.isEmpty { appendText(bytes[start..<i], decode: true) }
                continue
            }
            if starts("<!--") {
                guard let end = find("-->", from: i + 4) else { return truncated("inside a comment") }
                i = end + 3
            } else if starts("<![CDATA[") {
                let from = i + 9
                if let end = find("]]>", from: from) {
                    if !stack.isEmpty { appendText(bytes[from..<end], decode: false) }
                    i = end + 3
                } else {
                    return truncated("inside a CDATA section")
                }
            } else if starts("<!") {
                if case .failure(let e) = skipDeclaration() { return .failure(e) }
            } else if starts("<?") {
                guard let end = find("?>", from: i + 2) else { return truncated("inside a processing instruction") }
                i = end + 2
            } else if starts("</") {
                endTag()
            } else if i + 1 < n, isNameStart(bytes[i + 1]) {
                if case .failure(let e) = startTag() { return .failure(e) }
            } else {
                warn("a '<' that starts no markup was read as text")
                if !stack.isEmpty { appendText(bytes[i..<i + 1], decode: false) }
                i += 1
            }
        }
        if root == nil {
            if stack.isEmpty { return .failure(FeedParseError(.malformed, "the document holds no XML element")) }
            warn("the document ends before </\(stack[0].name)> (truncated or unclosed)")
            while !stack.isEmpty { closeTop() }
        }
        guard let root else { return .failure(FeedParseError(.malformed, "the document holds no XML element")) }
        return .success(XMLReader.Document(root: root, warnings: warnings))
    }

    mutating func truncated(_ where_: String) -> Result<XMLReader.Document, FeedParseError> {
        warn("the document ends \(where_) (truncated)")
        i = bytes.count
        guard !stack.isEmpty else { return .failure(FeedParseError(.malformed, "the document ends \(where_)")) }
        while !stack.isEmpty { closeTop() }
        guard let root else { return .failure(FeedParseError(.malformed, "the document ends \(where_)")) }
        return .success(XMLReader.Document(root: root, warnings: warnings))
    }

    func starts(_ s: StaticString) -> Bool {
        let count = s.utf8CodeUnitCount
        guard i + count <= bytes.count else { return false }
        let p = s.utf8Start
        for k in 0..<count where bytes[i + k] != p[k] { return false }
        return true
    }

    func find(_ s: StaticString, from: Int) -> Int? {
        let count = s.utf8CodeUnitCount
        let p = s.utf8Start
        var j = from
        while j + count <= bytes.count {
            if bytes[j] == p[0] {
                var all = true
                for k in 1..<count where bytes[j + k] != p[k] {
                    all = false
                    break
                }
                if all { return j }
            }
            j += 1
        }
        return nil
    }

    /// `<!DOCTYPE ...>` (with an internal subset in brackets): skipped, but entity declarations are refused.
    mutating func skipDeclaration() -> Result<Void, FeedParseError> {
        var j = i + 2
        var depth = 0
        var quote: UInt8 = 0
        let start = i
        while j < bytes.count {
            let c = bytes[j]
            if quote != 0 {
                if c == quote { quote = 0 }
            } else if c == 0x22 || c == 0x27 {
                quote = c
            } else if c == 0x5B {
                depth += 1
            } else if c == 0x5D {
                depth -= 1
            } else if c == 0x3E, depth <= 0 {
                break
            }
            j += 1
        }
        let decl = String(decoding: bytes[start..<min(j, bytes.count)], as: UTF8.self)
        if decl.range(of: "<!ENTITY", options: .caseInsensitive) != nil {
            return .failure(
                FeedParseError(
                    .entityDeclarations, "the document declares entities in its DOCTYPE; such documents are refused"))
        }
        if j >= bytes.count { warn("the document ends inside a declaration (truncated)") }
        i = j + 1
        return .success(())
    }

    mutating func startTag() -> Result<Void, FeedParseError> {
        i += 1
        let name = readName()
        var attributes: [(String, String)] = []
        var selfClosing = false
        while i < bytes.count {
            skipSpace()
            guard i < bytes.count else { break }
            let c = bytes[i]
            if c == 0x3E {
                i += 1
                break
            }
            if c == 0x2F {
                selfClosing = true
                i += 1
                continue
            }
            if c == 0x3C {
                warn("a start tag is not closed before the next '<'")
                break
            }
            let attrName = readName()
            if attrName.isEmpty {
                i += 1
                continue
            }
            skipSpace()
            var value = ""
            if i < bytes.count, bytes[i] == 0x3D {
                i += 1
                skipSpace()
                if i < bytes.count, bytes[i] == 0x22 || bytes[i] == 0x27 {
                    let q = bytes[i]
                    let from = i + 1
                    var j = from
                    while j < bytes.count, bytes[j] != q { j += 1 }
                    value = decodeEntities(bytes[from..<j])
                    i = min(j + 1, bytes.count)
                } else {
                    let from = i
                    while i < bytes.count, !isSpace(bytes[i]), bytes[i] != 0x3E { i += 1 }
                    value = decodeEntities(bytes[from..<i])
                }
            }
            attributes.append((attrName, value))
            if elements + attributes.count > maxElements, let e = counted(attributes.count) { return .failure(e) }
        }
        var namespaces = stack.last?.namespaces ?? ["xml": "http://www.w3.org/XML/1998/namespace"]
        for (k, v) in attributes {
            if k == "xmlns" {
                namespaces[""] = v
            } else if k.hasPrefix("xmlns:") {
                namespaces[String(k.dropFirst(6))] = v
            }
        }
        guard stack.count < XMLReader.maxDepth else {
            return .failure(FeedParseError(.tooDeep, "elements nest deeper than \(XMLReader.maxDepth) levels"))
        }
        if let e = counted(1 + attributes.count) { return .failure(e) }
        let local = name.split(separator: ":", maxSplits: 1).last ?? ""
        if local == "entry" || local == "item" {
            entries += 1
            guard entries <= maxEntries else {
                return .failure(
                    FeedParseError(
                        .tooManyCandidates,
                        "the document lists more than \(maxEntries) candidate versions (Atom entries or RSS items); "
                            + "refused"))
            }
        }
        stack.append(Frame(name: name, attributes: attributes, namespaces: namespaces))
        if selfClosing { closeTop() }
        return .success(())
    }

    /// Counts elements and attributes (each becomes something held in memory) against `maxElements`.
    mutating func counted(_ nodes: Int) -> FeedParseError? {
        elements += nodes
        guard elements > maxElements else { return nil }
        return FeedParseError(
            .tooManyElements, "the document holds more than \(maxElements) XML elements and attributes; refused")
    }

    mutating func endTag() {
        i += 2
        let name = readName()
        while i < bytes.count, bytes[i] != 0x3E, bytes[i] != 0x3C { i += 1 }
        if i < bytes.count, bytes[i] == 0x3E { i += 1 } else { warn("an end tag </\(name)> lacks its '>'") }
        guard let index = stack.lastIndex(where: { $0.name == name }) else {
            warn("an end tag </\(name)> closes nothing")
            return
        }
        if index < stack.count - 1 { warn("<\(stack[stack.count - 1].name)> is not closed") }
        while stack.count > index { closeTop() }
    }

    mutating func closeTop() {
        guard let f = stack.popLast() else { return }
        let prefix = f.name.contains(":") ? String(f.name.split(separator: ":")[0]) : ""
        let ns = f.namespaces[prefix]
        if ns == nil, !prefix.isEmpty { warn("the prefix '\(prefix)' is not declared") }
        let node = XMLNode(
            name: f.name, namespace: ns, attributes: f.attributes, children: f.children,
            text: String(decoding: f.text, as: UTF8.self))
        if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
    }

    mutating func appendText(_ slice: ArraySlice<UInt8>, decode: Bool) {
        if decode, slice.contains(0x26) {
            stack[stack.count - 1].text.append(contentsOf: decodeEntities(slice).utf8)
        } else {
            stack[stack.count - 1].text.append(contentsOf: slice)
        }
    }

    mutating func readName() -> String {
        let from = i
        while i < bytes.count, !isSpace(bytes[i]), bytes[i] != 0x3E, bytes[i] != 0x2F, bytes[i] != 0x3D,
            bytes[i] != 0x3C
        {
            i += 1
        }
        return String(decoding: bytes[from..<i], as: UTF8.self)
    }

    mutating func skipSpace() { while i < bytes.count, isSpace(bytes[i]) { i += 1 } }

    func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
    func isNameStart(_ c: UInt8) -> Bool { (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == 0x5F || c >= 0x80 }

    /// Predefined, numeric and the common HTML entities; anything else stays as written (with a warning).
    mutating func decodeEntities(_ slice: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(slice.count)
        var j = slice.startIndex
        while j < slice.endIndex {
            let c = slice[j]
            guard c == 0x26 else {
                out.append(c)
                j += 1
                continue
            }
            var k = j + 1
            while k < slice.endIndex, k - j <= 32, slice[k] != 0x3B, slice[k] != 0x26, !isSpace(slice[k]) { k += 1 }
            guard k < slice.endIndex, slice[k] == 0x3B else {
                warn("an unescaped '&' was read as text")
                out.append(c)
                j += 1
                continue
            }
            let name = String(decoding: slice[(j + 1)..<k], as: UTF8.self)
            if let scalar = HTMLEntities.resolve(name) {
                out.append(contentsOf: String(Character(scalar)).utf8)
            } else {
                warn("the entity '&\(name.prefix(32));' is not defined and was kept as text")
                out.append(contentsOf: slice[j...k])
            }
            j = k + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
