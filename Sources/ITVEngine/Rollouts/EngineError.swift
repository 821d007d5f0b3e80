import ITVCore

/// Why the engine refused an operation. `kind` is stable; its `answer` is the wire kind.
public struct EngineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `.notFound`, `.conflict`, `.planChanged`, `.alreadyApproved`, `.invalid`, `.unavailable`,
    /// `.artifactRejected`.
    public var kind: ITVErrorKind
    public var message: String

    public init(_ kind: ITVErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public init(_ error: RolloutError) { self.init(error.kind, error.message) }

    public var description: String { message }
}

/// Who asked: the Unix user behind a request (from the socket's peer credentials), or the daemon itself.
public struct Requester: Hashable, Sendable {
    public var user: String
    public var uid: UInt32

    public init(user: String, uid: UInt32) {
        self.user = user
        self.uid = uid
    }

    public static let daemon = Requester(user: "itvd", uid: 0)
}
