/// A stable error kind. Open (a struct, not an enum) so that a client decodes kinds added later.
public struct ErrorKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// The request is malformed: bad JSON, a missing or invalid field, bad HTTP.
    public static let invalidRequest = ErrorKind("invalid_request")
    /// The caller may not do this (not root, not in an operator or reader group).
    public static let permissionDenied = ErrorKind("permission_denied")
    /// No such route, procedure, rollout, host or window.
    public static let notFound = ErrorKind("not_found")
    /// The route exists, but not for this HTTP method.
    public static let methodNotAllowed = ErrorKind("method_not_allowed")
    /// The object is not in a state that allows this ("wave 2 is running, not waiting").
    public static let conflict = ErrorKind("conflict")
    /// The plan changed since the approver saw it: the approval does not count.
    public static let planChanged = ErrorKind("plan_changed")
    /// This user already approved the wave that waits; it needs another operator (four eyes). Added after
    /// the first protocol version: a client that does not know it shows it as any other refusal (409).
    public static let alreadyApproved = ErrorKind("already_approved")
    /// The caller operates or reads only some tenants (municipalities), and the request concerns hosts of
    /// another tenant, or something only the cooperative's global operators may do. Added after the first
    /// protocol version (403; itvctl exits 77 as for `permission_denied`).
    public static let tenantForbidden = ErrorKind("tenant_forbidden")
    /// The request body is larger than the daemon accepts.
    public static let payloadTooLarge = ErrorKind("payload_too_large")
    /// The request did not arrive completely within the deadline.
    public static let timeout = ErrorKind("timeout")
    /// The client speaks another protocol version.
    public static let protocolMismatch = ErrorKind("protocol_mismatch")
    /// The daemon cannot serve this now (too many connections, shutting down, still loading).
    public static let unavailable = ErrorKind("unavailable")
    /// The release's artifact failed verification (checksum, signature, missing entry, size, redirect): nothing
    /// can be planned or started for it. Added after the first protocol version (409).
    public static let artifactRejected = ErrorKind("artifact_rejected")
    /// A bug or an unexpected failure inside the daemon.
    public static let `internal` = ErrorKind("internal")

    /// The HTTP status that goes with the kind (500 for kinds this build does not know).
    public var httpStatus: Int {
        switch self {
        case .invalidRequest, .protocolMismatch: return 400
        case .permissionDenied, .tenantForbidden: return 403
        case .notFound: return 404
        case .methodNotAllowed: return 405
        case .timeout: return 408
        case .conflict, .planChanged, .alreadyApproved, .artifactRejected: return 409
        case .payloadTooLarge: return 413
        case .unavailable: return 503
        default: return 500
        }
    }

    /// The kinds of the first protocol version, in their order (frozen in `raw_values.json`).
    public static let known: [ErrorKind] = [
        .invalidRequest, .permissionDenied, .notFound, .methodNotAllowed, .conflict, .planChanged,
        .payloadTooLarge, .timeout, .protocolMismatch, .unavailable, .internal,
    ]

    /// Kinds added since the first version, oldest first (frozen in `error_kinds_added.json`). The protocol is
    /// add-only: a kind is appended here, never inserted into `known`.
    public static let added: [ErrorKind] = [.alreadyApproved, .artifactRejected, .tenantForbidden]

    /// Every kind this build knows.
    public static var all: [ErrorKind] { known + added }
}

/// Why a request failed: a stable kind and a message saying what cannot be done and why.
public struct APIError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    public var kind: ErrorKind
    public var message: String

    public init(_ kind: ErrorKind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// The body of every error response: `{"error": {"kind": "...", "message": "..."}}`.
public struct ErrorBody: Hashable, Sendable, Codable {
    public var error: APIError

    public init(_ error: APIError) { self.error = error }
}
