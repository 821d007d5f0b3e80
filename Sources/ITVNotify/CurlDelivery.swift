import CCurl
import Dispatch
import Foundation
import ITVCurl
import ITVEngine

/// Runs blocking libcurl transfers on one dedicated thread per transport (never on Swift's cooperative
/// pool), one at a time: a sink is delivered in order anyway.
final class CurlThread: Sendable {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}

/// What every notification transfer shares: deadlines, TLS verification, no signals; the answer kept up to
/// 64 KiB (only for error messages). The body to send goes to `easy.upload`.
final class NotifyCurl {
    let easy: CurlEasy
    private(set) var response = BoundedBytes(limit: 65_536)

    init?(caBundle: String?) {
        guard let easy = CurlEasy() else { return nil }
        self.easy = easy
        easy.set(CURLOPT_NOSIGNAL, 1)
        easy.set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        easy.set(CURLOPT_TIMEOUT_MS, 30_000)
        easy.set(CURLOPT_SSL_VERIFYPEER, 1)
        easy.set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caBundle { easy.set(CURLOPT_CAINFO, caBundle) }
        easy.onBody = { [unowned self] piece in
            self.response.append(piece)
            return true
        }
    }

    /// Performs the transfer; nil on success, else what went wrong.
    func perform() -> String? {
        guard easy.ok else { return "cannot set up the transfer (libcurl refused an option)" }
        let code = easy.perform()
        return code == CURLE_OK ? nil : easy.errorText(code)
    }

    var status: Int { easy.info(CURLINFO_RESPONSE_CODE) }
}

/// Reads a secret file (the key or the SMTP credentials), trimmed of a final newline.
func readSecret(_ path: String) -> Result<[UInt8], NotifyDeliveryError> {
    guard let data = FileManager.default.contents(atPath: path) else {
        return .failure(NotifyDeliveryError("cannot read \(path)"))
    }
    var bytes = [UInt8](data.prefix(64 * 1024))
    while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
    return .success(bytes)
}
