// We compose our own tree from libyaml's events (libyaml is the C library bundled with Yams, its target
// `CYaml`) instead of using Yams' composer: that gives every node its exact mark, reports a duplicate key
// where the duplicate is written, and lets us bound nesting depth and alias expansion while composing, with
// no recursion that a hostile document could drive into a stack overflow.
import CYaml
import ITVCore

/// A node of a YAML document with the place it was written.
indirect enum YNode {
    case scalar(YScalar)
    case mapping([(key: YNode, value: YNode)], SourceLocation)
    case sequence([YNode], SourceLocation)

    var location: SourceLocation {
        switch self {
        case .scalar(let s): return s.location
        case .mapping(_, let l), .sequence(_, let l): return l
        }
    }

    /// What this node is, in words, for "expected X, found Y" messages.
    var kindDescription: String {
        switch self {
        case .scalar(let s): return s.isNull ? "nothing (null)" : "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

struct YScalar {
    enum Style { case plain, quoted, block }
    var value: String
    var style: Style
    /// An explicit tag such as `!!str`, if any.
    var tag: String?
    var location: SourceLocation

    /// A plain empty, `~` or `null` scalar.
    var isNull: Bool { style == .plain && tag == nil && ["", "~", "null", "Null", "NULL"].contains(value) }
}

/// Limits that keep a hostile or broken document cheap to reject. The defaults are for playbooks and the
/// daemon configuration, well above anything a real one holds; an inventory may list many more hosts.
struct YAMLLimits {
    var maxBytes = 4 << 20
    var maxDepth = 64
    /// Nodes after expanding every alias (a "billion laughs" document explodes here).
    var maxExpandedNodes = 200_000
    /// Keys in one mapping (a playbook's largest mapping has 9).
    var maxKeysPerMapping = 1_000
    /// Items in one list (a wave's `hosts:` or `targets:` may name many hosts).
    var maxItemsPerSequence = 50_000

    static let playbook = YAMLLimits()
    static let config = YAMLLimits()
    /// An inventory's `hosts:` is one mapping with a key per host: 100,000 hosts, in at most 4 MiB.
    static let inventory = YAMLLimits(
        maxExpandedNodes: 2_000_000, maxKeysPerMapping: 100_000, maxItemsPerSequence: 100_000)
}

enum YAMLComposer {
    /// Parses exactly one YAML document, in time linear in its size. Errors are diagnostics at the place
    /// libyaml stopped, or at the node that broke a limit.
    static func compose(_ bytes: [UInt8], file: String, limits: YAMLLimits = YAMLLimits()) -> Result<YNode, Diagnostic>
    {
        let start = SourceLocation(file: file, line: 1, column: 1)
        guard bytes.count <= limits.maxBytes else {
            return .failure(Diagnostic(start, "file is larger than \(limits.maxBytes >> 20) MiB"))
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return .failure(Diagnostic(start, "cannot initialise the YAML parser"))
        }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var composer = Composer(file: file, limits: limits)
            return composer.run(&parser, bytes: bytes)
        }
    }
}

/// An open collection while its children are composed. A class, so that adding a child mutates it in place:
/// a value held in the stack would be copied out, appended to and written back, which copies every child
/// so far (and the table of keys seen) for each new one, quadratic in the size of the collection.
private final class Frame {
    let isMapping: Bool
    let anchor: String?
    let location: SourceLocation
    /// Nodes in this collection after alias expansion, itself included.
    var size = 1
    var items: [YNode] = []
    var pairs: [(key: YNode, value: YNode)] = []
    var pendingKey: YNode?
    var seen: [String: SourceLocation] = [:]

    init(isMapping: Bool, anchor: String?, location: SourceLocation) {
        self.isMapping = isMapping
        self.anchor = anchor
        self.location = location
    }

    var node: YNode { isMapping ? .mapping(pairs, location) : .sequence(items, location) }
}

private struct Composer {
    let file: String
    let limits: YAMLLimits
    var anchors: [String: (node: YNode, size: Int)] = [:]
    var expanded = 0
    var aliasesUsed = false

    init(file: String, limits: YAMLLimits) {
        self.file = file
        self.limits = limits
    }

    func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int? = nil) -> String? {
        guard let pointer else { return nil }
        let count = length ?? strlen(UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The character at a 0-based line and column (in Unicode scalars) of the input, if any.
    static func character(in bytes: [UInt8], line: Int, column: Int) -> Character? {
        var lineStart = 0
        var current = 0
        while current < line {
            guard let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            lineStart = newline + 1
            current += 1
        }
        let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
        let scalars = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self).unicodeScalars
        guard let index = scalars.index(scalars.startIndex, offsetBy: column, limitedBy: scalars.endIndex),
            index < scalars.endIndex
        else { return nil }
        return Character(scalars[index])
    }

    /// Composes the events of one document into a tree: each event opens a collection, completes a node
    /// (a scalar, an alias, a closed collection) that is counted and added to its parent, or ends the stream.
    mutating func run(_ parser: inout yaml_parser_t, bytes: [UInt8]) -> Result<YNode, Diagnostic> {
        var stack: [Frame] = []
        var root: YNode?
        var documents = 0
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                return .failure(syntaxError(parser, bytes: bytes))
            }
            defer { yaml_event_delete(&event) }
            let here = location(event.start_mark)
            let completed: (node: YNode, size: Int)
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                continue
            case YAML_STREAM_END_EVENT:
                guard let root else {
                    return .failure(Diagnostic(SourceLocation(file: file, line: 1, column: 1), "file is empty"))
                }
                return .success(root)
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    return .failure(Diagnostic(here, "expected one YAML document, found a second one"))
                }
                continue
            case YAML_ALIAS_EVENT:
                switch alias(event, at: here) {
                case .success(let target): completed = target
                case .failure(let diagnostic): return .failure(diagnostic)
                }
            case YAML_SCALAR_EVENT:
                completed = scalar(event, at: here)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                if let diagnostic = open(event, at: here, on: &stack) { return .failure(diagnostic) }
                continue
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { continue }
                if let anchor = frame.anchor { anchors[anchor] = (frame.node, frame.size) }
                completed = (frame.node, frame.size)
            default:
                continue
            }
            // Collections were counted at their start event, their children as they came.
            let leaf = event.type == YAML_ALIAS_EVENT || event.type == YAML_SCALAR_EVENT
            if let diagnostic = count(leaf ? completed.size : 0, at: here) { return .failure(diagnostic) }
            if let diagnostic = attach(completed.node, size: completed.size, at: here, to: stack) {
                return .failure(diagnostic)
            }
            if stack.isEmpty { root = completed.node }
        }
    }

    /// Where and why libyaml stopped, in the words of the loader's other messages.
    private func syntaxError(_ parser: yaml_parser_t, bytes: [UInt8]) -> Diagnostic {
        let problem =
            Composer.string(
                UnsafeMutablePointer(
                    mutating: parser.problem.map {
                        UnsafeRawPointer($0).assumingMemoryBound(to: yaml_char_t.self)
                    })
            ) ?? "syntax error"
        let context = Composer.string(
            UnsafeMutablePointer(
                mutating: parser.context.map { UnsafeRawPointer($0).assumingMemoryBound(to: yaml_char_t.self) })
        )
        let mark = parser.error == YAML_READER_ERROR ? parser.mark : parser.problem_mark
        var message = "YAML syntax error: \(problem)"
        if let context { message += " (\(context))" }
        if problem.hasPrefix("Maximum nesting level reached") {
            message = "nested more than \(limits.maxDepth) levels deep"
        } else if problem == "found character that cannot start any token",
            Composer.character(in: bytes, line: Int(mark.line), column: Int(mark.column)) == "\t"
        {
            message = "YAML syntax error: a tab character; YAML indents with spaces only"
        }
        return Diagnostic(location(mark), message)
    }

    /// The node an alias stands for (it counts as many nodes as its anchor's node expands to).
    private mutating func alias(_ event: yaml_event_t, at here: SourceLocation) -> Result<
        (node: YNode, size: Int), Diagnostic
    > {
        let name = Composer.string(event.data.alias.anchor) ?? ""
        guard let target = anchors[name] else {
            return .failure(Diagnostic(here, "alias *\(escapedForMessage(name)) refers to no anchor defined before it"))
        }
        aliasesUsed = true
        return .success(target)
    }

    private mutating func scalar(_ event: yaml_event_t, at here: SourceLocation) -> (node: YNode, size: Int) {
        let s = event.data.scalar
        let style: YScalar.Style
        switch s.style {
        case YAML_PLAIN_SCALAR_STYLE: style = .plain
        case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: style = .block
        default: style = .quoted
        }
        let value = Composer.string(s.value, length: Int(s.length)) ?? ""
        let node = YNode.scalar(YScalar(value: value, style: style, tag: Composer.string(s.tag), location: here))
        if let anchor = Composer.string(s.anchor) { anchors[anchor] = (node, 1) }
        return (node, 1)
    }

    /// Opens a sequence or mapping (counted now; refused beyond the depth limit).
    private mutating func open(_ event: yaml_event_t, at here: SourceLocation, on stack: inout [Frame]) -> Diagnostic? {
        expanded += 1
        guard stack.count < limits.maxDepth else {
            return Diagnostic(here, "nested more than \(limits.maxDepth) levels deep")
        }
        let isMapping = event.type == YAML_MAPPING_START_EVENT
        let anchor =
            isMapping
            ? Composer.string(event.data.mapping_start.anchor)
            : Composer.string(event.data.sequence_start.anchor)
        stack.append(Frame(isMapping: isMapping, anchor: anchor, location: here))
        return nil
    }

    /// Counts `nodes` more nodes of the expanded document; refuses it beyond the limit.
    private mutating func count(_ nodes: Int, at here: SourceLocation) -> Diagnostic? {
        expanded += nodes
        guard expanded > limits.maxExpandedNodes else { return nil }
        let how = aliasesUsed ? " through aliases" : ""
        return Diagnostic(here, "document expands to more than \(limits.maxExpandedNodes) nodes\(how); refusing it")
    }

    /// Adds a finished node to the open collection on top of the stack, in place.
    private func attach(_ node: YNode, size: Int, at here: SourceLocation, to stack: [Frame]) -> Diagnostic? {
        guard let top = stack.last else { return nil }
        top.size += size
        if !top.isMapping {
            guard top.items.count < limits.maxItemsPerSequence else {
                return Diagnostic(
                    here,
                    "a list holds more than \(limits.maxItemsPerSequence) items (the list starts at line "
                        + "\(top.location.line)); refusing it")
            }
            top.items.append(node)
        } else if let key = top.pendingKey {
            top.pairs.append((key, node))
            top.pendingKey = nil
        } else {
            guard top.pairs.count < limits.maxKeysPerMapping else {
                return Diagnostic(
                    here,
                    "a mapping holds more than \(limits.maxKeysPerMapping) keys (the mapping starts at line "
                        + "\(top.location.line)); refusing it")
            }
            if case .scalar(let k) = node {
                if let first = top.seen[k.value] {
                    return Diagnostic(
                        k.location,
                        "duplicate key '\(escapedForMessage(k.value))' (first written at line \(first.line))")
                }
                top.seen[k.value] = k.location
            }
            top.pendingKey = node
        }
        return nil
    }
}
