import Foundation

/// One notification sink and its outbox (`GET /v1/notify`).
public struct NotifySinkInfo: Hashable, Sendable, Codable {
    public var name: String
    /// `webhook` or `email`.
    public var kind: String
    /// The URL or SMTP server, without credentials.
    public var target: String
    public var events: [String]
    public var tenants: [String]?
    /// Not yet delivered.
    public var pending: Int
    /// Pending ones that failed at least once.
    public var failing: Int
    /// Delivered in the last 7 days.
    public var delivered: Int
    /// Given up after 24 h, in the last 7 days.
    public var dropped: Int
    public var lastError: String?
    public var lastErrorAt: Int64?
    public var lastDeliveredAt: Int64?

    public init(
        name: String, kind: String, target: String, events: [String], tenants: [String]? = nil, pending: Int = 0,
        failing: Int = 0, delivered: Int = 0, dropped: Int = 0, lastError: String? = nil, lastErrorAt: Int64? = nil,
        lastDeliveredAt: Int64? = nil
    ) {
        self.name = name
        self.kind = kind
        self.target = target
        self.events = events
        self.tenants = tenants
        self.pending = pending
        self.failing = failing
        self.delivered = delivered
        self.dropped = dropped
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.lastDeliveredAt = lastDeliveredAt
    }
}

/// `GET /v1/notify`.
public struct NotifyListResponse: Hashable, Sendable, Codable {
    public var sinks: [NotifySinkInfo]

    public init(sinks: [NotifySinkInfo]) { self.sinks = sinks }
}

/// `POST /v1/notify/{name}/test`: sends a test notification now, not through the outbox.
public struct NotifyTestRequest: Hashable, Sendable, Codable {
    public init() {}
}

public struct NotifyTestResponse: Hashable, Sendable, Codable {
    public var sink: String
    public var ok: Bool
    /// The test notification's id.
    public var id: String
    public var message: String

    public init(sink: String, ok: Bool, id: String, message: String) {
        self.sink = sink
        self.ok = ok
        self.id = id
        self.message = message
    }
}
