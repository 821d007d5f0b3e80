import ITVProtocol

/// A request body that the server checks against `ITVLimits` right after decoding it. `Dispatcher` decodes
/// only such bodies, so the bounds hold for every route, and a body over them is refused
/// (`invalid_request`) before the service sees it: nothing changes, nothing is audited or kept.
protocol BoundedRequest: Decodable {
    func checkBounds() throws(APIError)
}

enum Bounds {
    /// A comment or reason: at most `ITVLimits.textBytes` bytes.
    static func text(_ value: String?, _ field: String) throws(APIError) {
        guard let value else { return }
        let bytes = value.utf8.count
        guard bytes <= ITVLimits.textBytes else {
            throw APIError(
                .invalidRequest,
                "\(field) is \(bytes) bytes long; comments and reasons are limited to \(ITVLimits.textBytes) "
                    + "bytes (4 KiB)")
        }
    }

    /// A name: 1 to `ITVLimits.nameCharacters` characters, none of them a control character.
    static func name(_ value: String?, _ field: String) throws(APIError) {
        guard let value else { return }
        guard !value.isEmpty, value.unicodeScalars.count <= ITVLimits.nameCharacters,
            value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else {
            throw APIError(
                .invalidRequest, "\(field) must be 1 to \(ITVLimits.nameCharacters) printable characters")
        }
    }
}

extension FeedCheckRequest: BoundedRequest {
    func checkBounds() throws(APIError) {
        guard procedures.count <= ITVLimits.procedures else {
            throw APIError(
                .invalidRequest,
                "\(procedures.count) procedures in one feed check; at most \(ITVLimits.procedures)")
        }
        for id in procedures { try Bounds.name(id, "procedures[]") }
    }
}

extension HostScanRequest: BoundedRequest {
    func checkBounds() throws(APIError) { try Bounds.name(procedure, "procedure") }
}

extension RolloutStartRequest: BoundedRequest {
    func checkBounds() throws(APIError) {
        try Bounds.name(procedure, "procedure")
        try Bounds.name(version, "version")
        try Bounds.text(comment, "comment")
    }
}

extension ApproveRequest: BoundedRequest {
    func checkBounds() throws(APIError) {
        try Bounds.name(planHash, "plan_hash")
        try Bounds.text(comment, "comment")
    }
}

extension RolloutControlRequest: BoundedRequest {
    func checkBounds() throws(APIError) { try Bounds.text(reason, "reason") }
}

extension HostActionRequest: BoundedRequest {
    func checkBounds() throws(APIError) {
        try Bounds.name(host, "host")
        try Bounds.text(comment, "comment")
    }
}

extension WindowOpenRequest: BoundedRequest {
    func checkBounds() throws(APIError) { try Bounds.text(comment, "comment") }
}

extension WindowCloseRequest: BoundedRequest {
    func checkBounds() throws(APIError) { try Bounds.text(comment, "comment") }
}

extension ReloadRequest: BoundedRequest {
    func checkBounds() throws(APIError) {}
}

extension NotifyTestRequest: BoundedRequest {
    /// Empty: the sink is named in the path, which the router matches against the configured sinks.
    func checkBounds() throws(APIError) {}
}
