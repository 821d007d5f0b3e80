import CCurl
import Foundation
import ITVCore
import ITVCurl
import ITVEngine

/// POSTs the notification's JSON to the sink's URL. Headers: `X-ITV-Signature: sha256=<hex HMAC-SHA256 of
/// the body under the secret_file's key>` (when a secret is configured), `X-ITV-Event`, `X-ITV-Delivery`
/// (the notification id). Any 2xx answer is a delivery; anything else is retried by the sender.
public final class WebhookTransport: NotificationTransport {
    let thread = CurlThread(label: "itvd.notify.webhook")
    let caBundle: String?
    let userAgent: String

    public init(caBundle: String? = nil, userAgent: String = "itvd") {
        self.caBundle = caBundle
        self.userAgent = userAgent
    }

    public func deliver(_ notification: NotifyMessage, payload: String, to sink: NotifySink) async
        -> Result<Void, NotifyDeliveryError>
    {
        let body = Array(payload.utf8)
        var headers = [
            "Content-Type: application/json", "X-ITV-Event: \(notification.event.rawValue)",
            "X-ITV-Delivery: \(notification.id)", "Expect:",
        ]
        if let secretFile = sink.secretFile {
            switch readSecret(secretFile) {
            case .failure(let e): return .failure(e)
            case .success(let key):
                guard let mac = HMACSHA256.hex(key: key, data: body) else {
                    return .failure(NotifyDeliveryError("cannot compute the HMAC (libcrypto failed)"))
                }
                headers.append("X-ITV-Signature: sha256=\(mac)")
            }
        }
        let url = sink.url
        let plain = sink.allowPlain
        let headerLines = headers
        let caBundle = self.caBundle
        let userAgent = self.userAgent
        return await thread.run { () -> Result<Void, NotifyDeliveryError> in
            guard let notify = NotifyCurl(caBundle: caBundle) else {
                return .failure(NotifyDeliveryError("curl_easy_init failed"))
            }
            let easy = notify.easy
            easy.set(CURLOPT_URL, url)
            easy.set(CURLOPT_PROTOCOLS_STR, plain ? "http,https" : "https")
            easy.set(CURLOPT_FOLLOWLOCATION, 0)
            easy.set(CURLOPT_USERAGENT, userAgent)
            easy.set(CURLOPT_POST, 1)
            easy.set(CURLOPT_POSTFIELDSIZE, body.count)
            easy.upload(body)
            easy.set(CURLOPT_HTTPHEADER, list: headerLines)
            if let error = notify.perform() { return .failure(NotifyDeliveryError("\(url): \(error)")) }
            let status = notify.status
            guard (200..<300).contains(status) else {
                let answer = String(decoding: notify.response.bytes.prefix(200), as: UTF8.self)
                return .failure(
                    NotifyDeliveryError("\(url) answered HTTP \(status): \(escapedForMessage(answer))"))
            }
            return .success(())
        }
    }
}
