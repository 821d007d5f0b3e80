import Foundation
import ITVCore
import ITVEngine
import ITVTestSupport
import Testing

@testable import ITVNotify

/// `scripts/notify/smtp-receiver.py`: aiosmtpd (Debian's python3-aiosmtpd), STARTTLS required unless
/// `--plain`; stopped by PID.
final class SMTPReceiver: @unchecked Sendable {
    let dir: String
    let port: Int
    let process = Process()

    init(dir: String, plain: Bool = false, credentials: String? = nil) throws {
        self.dir = dir
        var arguments = [dir]
        if plain { arguments.append("--plain") }
        if let credentials { arguments += ["--credentials", credentials] }
        port = Int(try startScriptServer(process, "scripts/notify/smtp-receiver.py", arguments)) ?? 0
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }

    var mails: [(text: String, meta: [String: Any])] {
        (1...50).compactMap { n in
            guard let text = try? String(contentsOfFile: "\(dir)/mail-\(n).eml", encoding: .utf8),
                let data = FileManager.default.contents(atPath: "\(dir)/mail-\(n).json"),
                let meta = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return nil }
            return (text, meta)
        }
    }
}

@Suite("Mail over SMTP with libcurl against aiosmtpd", .serialized)
struct MailTransportTests {
    static let message = NotifyMessage(
        event: .waveWaiting, at: 1_780_000_000_000, tenants: ["egling"], rollout: 12, procedure: "kassenbuch",
        version: "2.0", wave: 2, waveName: "pilot", hosts: ["ws-eg-01"], planHash: "abc123",
        message: "kassenbuch 2.0: wave 2 (pilot) waits for approval", command: "itvctl rollout approve 12")

    static func sink(_ port: Int, credentials: String? = nil, plain: Bool = false) -> NotifySink {
        NotifySink(
            name: "ops-mail", kind: .email, events: [.waveWaiting], url: "smtp://127.0.0.1:\(port)",
            from: "itvd@example.org", to: ["it-ops@example.org", "oncall@example.org"], credentialsFile: credentials,
            allowPlain: plain)
    }

    @Test("STARTTLS and AUTH: the mail arrives encrypted with subject, command and a stable Message-ID")
    func startTLS() async throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try SMTPReceiver(dir: dir + "/smtp", credentials: "itvd:pa:ss")
        defer { server.stop() }
        let credentials = dir + "/smtp.cred"
        try Data("itvd:pa:ss\n".utf8).write(to: URL(fileURLWithPath: credentials))
        let transport = MailTransport(caBundle: server.dir + "/ca.pem", hostname: "itv.example.org")
        let result = await transport.deliver(
            Self.message, payload: Self.message.json(), to: Self.sink(server.port, credentials: credentials))
        if case .failure(let e) = result { Issue.record("not delivered: \(e)") }
        let mails = server.mails
        #expect(mails.count == 1)
        let mail = try #require(mails.first)
        #expect(mail.meta["tls"] as? Bool == true)
        #expect(mail.meta["user"] as? String == "itvd")
        #expect(mail.meta["to"] as? [String] == ["it-ops@example.org", "oncall@example.org"])
        #expect(mail.text.contains("Subject: [itv] kassenbuch 2.0: wave 2 (pilot) waits for approval"))
        #expect(mail.text.contains("Message-ID: <\(Self.message.id)@itv.example.org>"))
        #expect(mail.text.contains("itvctl rollout approve 12"))
        #expect(mail.text.contains("plan hash: abc123"))
    }

    @Test("a server without STARTTLS gets nothing unless allow_plain; wrong credentials fail")
    func noPlainText() async throws {
        let dir = try tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try SMTPReceiver(dir: dir + "/smtp", plain: true)
        defer { server.stop() }
        let transport = MailTransport(hostname: "itv.example.org")
        let refused = await transport.deliver(Self.message, payload: "", to: Self.sink(server.port))
        guard case .failure = refused else {
            Issue.record("sent in clear text although STARTTLS was required")
            return
        }
        #expect(server.mails.isEmpty)
        let plain = await transport.deliver(Self.message, payload: "", to: Self.sink(server.port, plain: true))
        if case .failure(let e) = plain { Issue.record("allow_plain: not delivered: \(e)") }
        #expect(server.mails.count == 1)
        #expect(server.mails.first?.meta["tls"] as? Bool == false)

        let tls = try SMTPReceiver(dir: dir + "/smtp-tls", credentials: "itvd:right")
        defer { tls.stop() }
        let wrong = dir + "/wrong.cred"
        try Data("itvd:wrong".utf8).write(to: URL(fileURLWithPath: wrong))
        let denied = await MailTransport(caBundle: tls.dir + "/ca.pem").deliver(
            Self.message, payload: "", to: Self.sink(tls.port, credentials: wrong))
        guard case .failure = denied else {
            Issue.record("delivered with wrong credentials")
            return
        }
        #expect(tls.mails.isEmpty)
    }
}
