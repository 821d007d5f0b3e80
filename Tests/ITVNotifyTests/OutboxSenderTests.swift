import Foundation
import ITVCore
import ITVEngine
import ITVStore
import ITVTestSupport
import Logging
import Testing

@testable import ITVNotify

/// `scripts/notify/webhook-receiver.py` (real HTTPS, own CA) for the sender tests; stopped by PID.
final class Receiver: @unchecked Sendable {
    let dir: String
    let port: Int
    let process = Process()

    init(dir: String) throws {
        self.dir = dir
        port = Int(try startScriptServer(process, "scripts/notify/webhook-receiver.py", [dir])) ?? 0
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }

    var received: Int {
        ((try? String(contentsOfFile: dir + "/received.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").count
    }
}

func tempDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("itv-notify-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("Outbox senders against a real SQLite store and a real HTTPS receiver", .serialized)
struct OutboxSenderTests {
    static func records(_ count: Int, sink: String, at: EpochMillis) -> [StoreChange] {
        (0..<count).flatMap { i in
            OutboxRecord.records(
                NotifyMessage(event: .waveWaiting, at: at, rollout: Int64(i + 1), message: "wave \(i) waits"),
                sinks: [NotifySink(name: sink, kind: .webhook, events: [.waveWaiting], url: "https://x.example/")],
                at: at)
        }
    }

    @Test("1,000 notifications for a dead sink: the live sink gets its own at once, the dead one is paced")
    func deadSinkDelaysNothing() async throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let receiver = try Receiver(dir: dir + "/receiver")
        defer { receiver.stop() }
        #expect(receiver.port > 0)
        let store = try await SQLiteRolloutStore.open(stateDirectory: dir + "/state")
        let now = SystemEngineClock().now()
        try await store.commit(Self.records(1_000, sink: "dead", at: now) + Self.records(5, sink: "live", at: now))
        let sinks = [
            NotifySink(name: "dead", kind: .webhook, events: [.waveWaiting], url: "https://127.0.0.1:1/hook"),
            NotifySink(
                name: "live", kind: .webhook, events: [.waveWaiting], url: "https://127.0.0.1:\(receiver.port)/hook"),
        ]
        var policy = NotifyPolicy()
        policy.baseBackoff = 0.5
        policy.maxBackoff = 1
        let waker = OutboxWaker()
        let sender = OutboxSender(
            store: store, sinks: sinks,
            transports: [.webhook: WebhookTransport(caBundle: receiver.dir + "/ca.pem")], waker: waker,
            clock: SystemEngineClock(), policy: policy, logger: Logger(label: "test"))
        let started = ContinuousClock.now
        let running = Task { await sender.run() }
        waker.wake(["dead", "live"])
        let deadline = Date().addingTimeInterval(60)
        while receiver.received < 5, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let elapsed = ContinuousClock.now - started
        #expect(receiver.received == 5)
        #expect(elapsed < .seconds(30), "the live sink waited for the dead one: \(elapsed)")
        try await Task.sleep(for: .seconds(2))
        running.cancel()
        await running.value
        let summary = Dictionary(uniqueKeysWithValues: try await store.outboxSummary().map { ($0.sink, $0) })
        #expect(summary["live"]?.delivered == 5)
        #expect(summary["live"]?.pending == 0)
        let dead = try #require(summary["dead"])
        #expect(dead.pending == 1_000)
        #expect(dead.delivered == 0)
        // One attempt per backoff (0.5 s, then 1 s), not one per waiting notification.
        #expect(dead.failing >= 1 && dead.failing <= 12, "\(dead.failing) attempts")
        #expect(dead.lastError?.contains("127.0.0.1") == true)
        await store.close()
    }

    @Test("a notification not delivered in time is given up (dropped), once")
    func givenUp() async throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await SQLiteRolloutStore.open(stateDirectory: dir + "/state")
        let old = SystemEngineClock().now() - 10_000
        try await store.commit(Self.records(3, sink: "dead", at: old))
        var policy = NotifyPolicy()
        policy.giveUpAfter = 5
        let sender = OutboxSender(
            store: store,
            sinks: [NotifySink(name: "dead", kind: .webhook, events: [.waveWaiting], url: "https://127.0.0.1:1/")],
            transports: [.webhook: WebhookTransport()], waker: OutboxWaker(), clock: SystemEngineClock(),
            policy: policy, logger: Logger(label: "test"))
        let running = Task { await sender.run() }
        let deadline = Date().addingTimeInterval(30)
        var summary: OutboxSinkSummary?
        while Date() < deadline {
            summary = try await store.outboxSummary().first
            if summary?.dropped == 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        await running.value
        #expect(summary?.dropped == 3)
        #expect(summary?.pending == 0)
        #expect(summary?.lastError?.contains("not delivered within") == true)
        await store.close()
    }
}
