import CCurl
import Foundation
import ITVCore
import ITVCurl
import ITVEngine

/// Sends the notification as a plain-text mail over SMTP with libcurl. TLS is required
/// (`smtps://`, or STARTTLS on `smtp://` with `CURLUSESSL_ALL`: a server without STARTTLS fails rather than
/// getting the mail in clear text) unless the sink says `allow_plain: true`. The `Message-ID` is made
/// from the notification id, so a receiver (or a human) can tell a repeated delivery apart.
public final class MailTransport: NotificationTransport {
    let thread = CurlThread(label: "itvd.notify.mail")
    let caBundle: String?
    let hostname: String

    public init(caBundle: String? = nil, hostname: String? = nil) {
        self.caBundle = caBundle
        self.hostname = hostname ?? ProcessInfo.processInfo.hostName
    }

    /// The message: headers and a body short enough to read on a phone, CRLF line ends.
    public static func message(_ n: NotifyMessage, from: String, to: [String], hostname: String) -> String {
        var body = [n.message]
        if let command = n.command { body += ["", command] }
        var facts: [String] = []
        if let rollout = n.rollout { facts.append("rollout: \(rollout)") }
        if let wave = n.wave { facts.append("wave: \(wave)" + (n.waveName.map { " (\($0))" } ?? "")) }
        if !n.tenants.isEmpty { facts.append("tenants: \(n.tenants.joined(separator: ", "))") }
        if !n.hosts.isEmpty {
            let shown = n.hosts.prefix(20).joined(separator: ", ")
            facts.append("hosts: \(shown)" + (n.hosts.count > 20 ? " and \(n.hosts.count - 20) more" : ""))
        }
        if let hash = n.planHash { facts.append("plan hash: \(hash)") }
        facts.append("event: \(n.event.rawValue) at \(n.at)")
        facts.append("id: \(n.id)")
        body += [""] + facts
        let date = DateFormatter()
        date.locale = Locale(identifier: "en_US_POSIX")
        date.timeZone = TimeZone(identifier: "UTC")
        date.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let headers = [
            "From: \(from)", "To: \(to.joined(separator: ", "))", "Subject: \(oneLine(n.subject))",
            "Date: \(date.string(from: Date()))", "Message-ID: <\(n.id)@\(hostname)>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
            "X-ITV-Event: \(n.event.rawValue)",
        ]
        // A line starting with "." is doubled by curl itself (SMTP dot-stuffing).
        return (headers + [""] + body.map(oneLine)).joined(separator: "\r\n") + "\r\n"
    }

    static func oneLine(_ text: String) -> String {
        String(escapedForMessage(text).prefix(900))
    }

    public func deliver(_ notification: NotifyMessage, payload: String, to sink: NotifySink) async
        -> Result<Void, NotifyDeliveryError>
    {
        guard let from = sink.from, !sink.to.isEmpty else {
            return .failure(NotifyDeliveryError("the sink has no from or to address"))
        }
        var credentials: (String, String)?
        if let file = sink.credentialsFile {
            switch readSecret(file) {
            case .failure(let e): return .failure(e)
            case .success(let bytes):
                let text = String(decoding: bytes, as: UTF8.self)
                guard let colon = text.firstIndex(of: ":") else {
                    return .failure(NotifyDeliveryError("\(file) must hold user:password"))
                }
                credentials = (String(text[..<colon]), String(text[text.index(after: colon)...]))
            }
        }
        let message = Array(Self.message(notification, from: from, to: sink.to, hostname: hostname).utf8)
        let url = sink.url
        let plain = sink.allowPlain
        let caBundle = self.caBundle
        let hostname = self.hostname
        let recipients = sink.to.map { "<\($0)>" }
        let credentialsCopy = credentials
        return await thread.run { () -> Result<Void, NotifyDeliveryError> in
            guard let notify = NotifyCurl(caBundle: caBundle) else {
                return .failure(NotifyDeliveryError("curl_easy_init failed"))
            }
            let easy = notify.easy
            easy.set(CURLOPT_URL, url.hasSuffix("/") ? url + hostname : url + "/" + hostname)
            easy.set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
            easy.set(CURLOPT_USE_SSL, plain ? Int(CURLUSESSL_NONE.rawValue) : Int(CURLUSESSL_ALL.rawValue))
            easy.set(CURLOPT_MAIL_FROM, "<\(from)>")
            easy.set(CURLOPT_MAIL_RCPT, list: recipients)
            if let (user, password) = credentialsCopy {
                easy.set(CURLOPT_USERNAME, user)
                easy.set(CURLOPT_PASSWORD, password)
            }
            easy.set(CURLOPT_UPLOAD, 1)
            easy.set(CURLOPT_INFILESIZE, message.count)
            easy.upload(message)
            if let error = notify.perform() { return .failure(NotifyDeliveryError("\(url): \(error)")) }
            return .success(())
        }
    }
}
