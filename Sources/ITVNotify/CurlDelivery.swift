import CCurl
import Dispatch
import Foundation
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

/// One easy handle, freed when done; the body to send is read by curl through `readCallback`.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var upload: [UInt8] = []
    var uploaded = 0
    var response: [UInt8] = []

    init?() {
        guard let h = curl_easy_init() else { return nil }
        handle = h
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        for list in lists { curl_slist_free_all(list) }
        errorBuffer.deallocate()
    }

    var ok = true
    func set(_ option: CURLoption, _ value: Int) {
        if itv_easy_setopt_long(handle, option, value) != CURLE_OK { ok = false }
    }
    func set(_ option: CURLoption, _ value: String) {
        if itv_easy_setopt_str(handle, option, value) != CURLE_OK { ok = false }
    }
    func set(_ option: CURLoption, list items: [String]) {
        var list: UnsafeMutablePointer<curl_slist>?
        for item in items { list = curl_slist_append(list, item) }
        guard let list else { return }
        lists.append(list)
        if itv_easy_setopt_slist(handle, option, list) != CURLE_OK { ok = false }
    }

    /// Common settings: deadlines, TLS verification, no signals, error text, body capture.
    func prepare(caBundle: String?) {
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        set(CURLOPT_TIMEOUT_MS, 30_000)
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caBundle { set(CURLOPT_CAINFO, caBundle) }
        if itv_easy_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer) != CURLE_OK { ok = false }
        let me = Unmanaged.passUnretained(self).toOpaque()
        if itv_easy_setopt_cb(handle, CURLOPT_WRITEFUNCTION, curlCollect) != CURLE_OK { ok = false }
        if itv_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, me) != CURLE_OK { ok = false }
        if itv_easy_setopt_cb(handle, CURLOPT_READFUNCTION, curlSupply) != CURLE_OK { ok = false }
        if itv_easy_setopt_ptr(handle, CURLOPT_READDATA, me) != CURLE_OK { ok = false }
    }

    /// Performs the transfer; nil on success, else what went wrong.
    func perform() -> String? {
        guard ok else { return "cannot set up the transfer (libcurl refused an option)" }
        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        }
        return nil
    }

    var status: Int {
        var code = 0
        _ = itv_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }
}

/// Keeps at most 64 KiB of an answer (only for error messages).
private let curlCollect: itv_curl_data_cb = { ptr, size, count, user in
    guard let ptr, let user else { return 0 }
    let easy = Unmanaged<CurlEasy>.fromOpaque(user).takeUnretainedValue()
    let n = size * count
    if easy.response.count < 65_536 {
        ptr.withMemoryRebound(to: UInt8.self, capacity: n) { p in
            easy.response.append(contentsOf: UnsafeBufferPointer(start: p, count: min(n, 65_536 - easy.response.count)))
        }
    }
    return n
}

private let curlSupply: itv_curl_data_cb = { ptr, size, count, user in
    guard let ptr, let user else { return 0 }
    let easy = Unmanaged<CurlEasy>.fromOpaque(user).takeUnretainedValue()
    let n = min(size * count, easy.upload.count - easy.uploaded)
    guard n > 0 else { return 0 }
    easy.upload.withUnsafeBufferPointer { b in
        ptr.withMemoryRebound(to: UInt8.self, capacity: n) { p in
            p.update(from: b.baseAddress! + easy.uploaded, count: n)
        }
    }
    easy.uploaded += n
    return n
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
