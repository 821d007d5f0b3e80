import Foundation
import ITVCore

/// One notification, as the webhook body carries it (`payload`) and as the outbox stores it. The `id` is
/// made once, when the event is committed, and never changes: a receiver drops a second delivery with it.
public struct NotifyMessage: Hashable, Sendable, Codable {
    public var id: String
    public var event: NotifyEvent
    /// RFC 3339 UTC time of the event.
    public var at: String
    public var tenants: [String]
    public var rollout: Int64?
    public var procedure: String?
    public var version: String?
    /// 1-based, as operators count waves.
    public var wave: Int?
    public var waveName: String?
    public var hosts: [String]
    public var planHash: String?
    /// One line in the operators' words.
    public var message: String
    /// What to type next, e.g. the exact `itvctl rollout approve RID` line for `wave.waiting`.
    public var command: String?

    enum CodingKeys: String, CodingKey {
        case id, event, at, tenants, rollout, procedure, version, wave, hosts, message, command
        case waveName = "wave_name"
        case planHash = "plan_hash"
    }

    public init(
        id: String = NotifyMessage.newID(), event: NotifyEvent, at: EpochMillis, tenants: [String] = [],
        rollout: Int64? = nil, procedure: String? = nil, version: String? = nil, wave: Int? = nil,
        waveName: String? = nil, hosts: [String] = [], planHash: String? = nil, message: String, command: String? = nil
    ) {
        self.id = id
        self.event = event
        self.at = Self.rfc3339(at)
        self.tenants = tenants
        self.rollout = rollout
        self.procedure = procedure
        self.version = version
        self.wave = wave
        self.waveName = waveName
        self.hosts = hosts
        self.planHash = planHash
        self.message = message
        self.command = command
    }

    public static func newID() -> String { UUID().uuidString.lowercased() }

    static func rfc3339(_ millis: EpochMillis) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// The webhook body: compact JSON with sorted keys (the bytes the signature covers).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public static func decode(_ json: String) -> NotifyMessage? {
        try? JSONDecoder().decode(NotifyMessage.self, from: Data(json.utf8))
    }

    /// The mail subject, short enough for a phone's lock screen.
    public var subject: String {
        let what = [procedure, version].compactMap { $0 }.joined(separator: " ")
        let head = what.isEmpty ? "[itv]" : "[itv] \(what):"
        switch event {
        case .waveWaiting:
            return "\(head) wave \(wave ?? 0) (\(waveName ?? "?")) waits for approval"
        default:
            return "\(head) \(message)"
        }
    }
}

/// One notification for one sink, committed with the change that caused it.
public struct OutboxRecord: Hashable, Sendable {
    public var id: String
    public var sink: String
    public var event: String
    public var createdAt: EpochMillis
    /// `NotifyMessage.json()`.
    public var payload: String

    public init(id: String, sink: String, event: String, createdAt: EpochMillis, payload: String) {
        self.id = id
        self.sink = sink
        self.event = event
        self.createdAt = createdAt
        self.payload = payload
    }

    /// A record per sink that wants the notification.
    public static func records(_ n: NotifyMessage, sinks: [NotifySink], at: EpochMillis) -> [StoreChange] {
        let payload = n.json()
        return sinks.filter { $0.wants(n.event, tenants: n.tenants) }.map {
            .outbox(OutboxRecord(id: n.id, sink: $0.name, event: n.event.rawValue, createdAt: at, payload: payload))
        }
    }
}

/// The configured sinks and the waker of their senders, for the parts of the daemon that decide
/// notifications outside rollouts (releases, feeds).
public struct NotifyRouting: Sendable {
    public var sinks: [NotifySink]
    public var waker: OutboxWaker?

    public init(sinks: [NotifySink], waker: OutboxWaker?) {
        self.sinks = sinks
        self.waker = waker
    }

    public func records(_ message: NotifyMessage, at: EpochMillis) -> [StoreChange] {
        OutboxRecord.records(message, sinks: sinks, at: at)
    }

    /// Wakes the senders of the sinks with records in `changes` (after they were committed).
    public func wake(_ changes: [StoreChange]) {
        var names: Set<String> = []
        for case .outbox(let r) in changes { names.insert(r.sink) }
        if !names.isEmpty { waker?.wake(names) }
    }
}
