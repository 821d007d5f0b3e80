import Foundation
import ITVProtocol
import ITVTestSupport
import Testing

/// `scripts/notify/webhook-receiver.py`: a real HTTPS webhook receiver with its own CA, on a fixed or
/// ephemeral port of 127.0.0.1; stopped by PID.
final class WebhookReceiver: @unchecked Sendable {
    let dir: String
    let port: Int
    private let server: ServerProcess

    struct Delivery: Decodable {
        var path: String
        var headers: [String: String?]
        var body: String
        var signature_valid: Bool?

        var id: String? { headers["X-ITV-Delivery"] ?? nil }
        var event: String? { headers["X-ITV-Event"] ?? nil }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    init(dir: String, port: Int = 0, failFirst: Int = 0, secret: String? = nil) throws {
        self.dir = dir
        var arguments = [dir, "--port", String(port), "--fail-first", String(failFirst)]
        if let secret { arguments += ["--secret", secret] }
        server = try ServerProcess.python("scripts/notify/webhook-receiver.py", arguments)
        do {
            self.port = try server.readyPorts(1)[0]
        } catch {
            throw E2EFailure(description: "the webhook receiver did not start: \(error)")
        }
    }

    var ca: String { dir + "/ca.pem" }

    func stop() { server.stop() }

    static func lines<T: Decodable>(_ file: String, _ type: T.Type) -> [T] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    func received() -> [Delivery] { Self.lines(dir + "/received.jsonl", Delivery.self) }
    func attempts() -> [Delivery] {
        struct Attempt: Decodable { var headers: [String: String?] }
        return Self.lines(dir + "/attempts.jsonl", Attempt.self).map {
            Delivery(path: "", headers: $0.headers, body: "")
        }
    }

    /// Polls until `condition` holds on what was received (2 minutes at most).
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 120, _ condition: ([Delivery]) -> Bool) async throws -> [Delivery] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let got = received()
            if condition(got) { return got }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw E2EFailure(description: "webhook: not \(what) after \(Int(timeout)) s: \(received().map(\.event))")
    }
}

extension E2ETests {
    /// Notifications from the built itvd to a real HTTPS webhook receiver (loopback range 127.0.71).
    @Suite("End to end: notifications from the outbox", .serialized)
    struct E2ENotifyTests {
        @Test(
            "webhook: down for 3 attempts then delivered once with a valid HMAC; kill -9 before delivery: the same id after restart; a dead sink changes nothing"
        )
        func webhookDeliveredOnceAcrossKill() async throws {
            let app = "fake-notify"
            let temp = try E2ETempDir()
            let secret = temp.path + "/hook.secret"
            try Data("s3cret-key\n".utf8).write(to: URL(fileURLWithPath: secret))
            chmod(secret, 0o600)
            let receiverDir = temp.path + "/receiver"
            var receiver = try WebhookReceiver(dir: receiverDir, failFirst: 3, secret: secret)
            defer { receiver.stop() }
            let port = receiver.port
            let playbook = try fakeAppPlaybook(
                id: app,
                waves: ["{name: canary, size: 1, approval: auto}", "{name: pilot, size: rest, approval: operator}"])
            let config = """
                notify:
                  - {name: chat, kind: webhook, url: "https://127.0.0.1:\(port)/hook", secret_file: \(secret), events: [all]}
                  - {name: dead, kind: webhook, url: "https://127.0.0.1:1/hook", events: [all]}
                """
            let environment = [
                "ITVD_CA_BUNDLE": receiver.ca, "ITVD_NOTIFY_BACKOFF_BASE": "0.2", "ITVD_NOTIFY_BACKOFF_MAX": "1",
            ]
            try await E2EFleet.with(3, base: "127.0.71") { fleet in
                for host in fleet.hostNames { try fleet.setVersion(host, app, "1.0") }
                try await E2EDaemon.with(
                    fleet: fleet, playbooks: [app: playbook], extraConfig: config, environment: environment
                ) { itvd in
                    let rid = try itvd.startRollout(app, "2.0")
                    let waiting = try await itvd.waitForApproval(rid, wave: 1)
                    var got = try await receiver.waitFor("rollout.started and wave.waiting") { got in
                        Set(got.compactMap(\.event)).isSuperset(of: ["rollout.started", "wave.waiting"])
                    }
                    // The receiver refused the first three attempts; every notification arrived once.
                    let attempts = receiver.attempts()
                    #expect(attempts.count >= 4)
                    #expect(Set(got.compactMap(\.id)).count == got.count, "a notification was delivered twice")
                    #expect(attempts.count == got.count + 3, "three refused attempts, then one per notification")
                    #expect(Set(attempts.compactMap(\.id)) == Set(got.compactMap(\.id)), "refused ones came again")
                    #expect(got.allSatisfy { $0.signature_valid == true })
                    #expect(got.compactMap(\.event).sorted() == ["rollout.started", "wave.waiting"])
                    let body = try #require(got.first { $0.event == "wave.waiting" }).json
                    #expect(body["command"] as? String == "itvctl rollout approve \(rid)")
                    #expect(body["plan_hash"] as? String == waiting.rollout.planHash)
                    #expect(body["wave"] as? Int == 2)
                    #expect(body["wave_name"] as? String == "pilot")
                    #expect(body["rollout"] as? Int == Int(rid))
                    #expect(body["procedure"] as? String == app)
                    #expect(body["version"] as? String == "2.0")
                    #expect(Set(body["hosts"] as? [String] ?? []) == Set(waiting.waves[1].hosts))
                    #expect((body["tenants"] as? [String])?.isEmpty == false)
                    #expect((body["message"] as? String)?.contains("wave 2 (pilot) waits for approval") == true)
                    #expect(body["id"] as? String == got.first { $0.event == "wave.waiting" }?.id)

                    // The receiver fails every attempt now; the rollout goes on regardless.
                    receiver.stop()
                    receiver = try WebhookReceiver(dir: receiverDir, port: port, failFirst: 1_000_000, secret: secret)
                    try itvd.ok(["rollout", "approve", String(rid)])
                    try await itvd.waitForPhase(rid, "succeeded")
                    let deadline = Date().addingTimeInterval(60)
                    var pendingID: String?
                    while pendingID == nil, Date() < deadline {
                        pendingID = receiver.attempts().last { $0.event == "rollout.succeeded" }?.id
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    let id = try #require(
                        pendingID,
                        "rollout.succeeded was never attempted: \(receiver.attempts().map(\.event))\n\(itvd.logTail(6000))"
                    )
                    itvd.kill9()
                    receiver.stop()
                    receiver = try WebhookReceiver(dir: receiverDir, port: port, failFirst: 0, secret: secret)
                    try await itvd.start()
                    got = try await receiver.waitFor("rollout.succeeded") {
                        $0.contains { $0.event == "rollout.succeeded" }
                    }
                    let succeeded = got.filter { $0.event == "rollout.succeeded" }
                    #expect(succeeded.count == 1)
                    #expect(succeeded.first?.id == id, "the id changed across the restart")
                    #expect(Set(got.compactMap(\.id)).count == got.count, "a notification was delivered twice")

                    // The dead sink holds its notifications with the last error; it delayed nothing.
                    let list = try e2eDecode(NotifyListResponse.self, try itvd.ok(["--json", "notify", "list"]))
                    let dead = try #require(list.sinks.first { $0.name == "dead" })
                    #expect(dead.pending >= 4)
                    #expect(dead.delivered == 0)
                    #expect(dead.lastError?.isEmpty == false)
                    let metrics = parseExposition(try itvd.ok(["metrics"]))
                    #expect(sample(metrics, "itv_notify_pending", ["sink": "dead"]) == Double(dead.pending))
                    let test = try itvd.ok(["--json", "notify", "test", "chat"])
                    #expect(test.contains("\"ok\" : true") || test.contains("\"ok\":true"), "\(test)")
                    try await receiver.waitFor("notify.test") { $0.contains { $0.event == "notify.test" } }
                    let refused = try itvd.ctl(["notify", "test", "dead"])
                    #expect(refused.status == 1)
                }
            }
        }
    }
}
