import ITVCore

/// Why the engine refused an operation. `kind` is stable and goes on the wire.
public struct EngineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `not_found`, `conflict`, `plan_changed`, `already_approved`, `invalid`, `unavailable`, `store`,
    /// `artifact_rejected`.
    public var kind: String
    public var message: String

    public init(_ kind: String, _ message: String) {
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
