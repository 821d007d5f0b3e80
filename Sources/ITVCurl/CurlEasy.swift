import CCurl

/// One libcurl easy handle and everything libcurl only points to (header lists, the request body, the error
/// text), freed together when the handle goes. Typed options instead of the variadic `curl_easy_setopt`; the
/// answer's header lines and body go to closures (`onHeader`, `onBody`), never to libcurl's defaults (stdout,
/// stdin). A refused option makes `ok` false: the caller must not perform the transfer then.
///
/// Not thread-safe: a handle lives on one thread (libcurl's rule too).
public final class CurlEasy {
    public let handle: UnsafeMutableRawPointer
    /// False once libcurl refused an option.
    public private(set) var ok = true
    /// Each header line as libcurl reads it (status lines of every hop, headers, the empty line that ends a
    /// head); false stops the transfer (`CURLE_WRITE_ERROR`). Nil: headers are dropped.
    public var onHeader: ((UnsafeBufferPointer<UInt8>) -> Bool)?
    /// Each piece of the body; false stops the transfer (`CURLE_WRITE_ERROR`). Nil: the body is dropped.
    public var onBody: ((UnsafeBufferPointer<UInt8>) -> Bool)?

    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var postFields: UnsafeMutablePointer<UInt8>?
    fileprivate var upload: [UInt8] = []
    fileprivate var uploaded = 0

    /// Nil when libcurl cannot make a handle (out of memory).
    public init?() {
        CurlGlobal.initialize()
        guard let h = curl_easy_init() else {
            errorBuffer.deallocate()
            return nil
        }
        handle = h
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        let me = Unmanaged.passUnretained(self).toOpaque()
        check(itv_easy_setopt_cb(handle, CURLOPT_HEADERFUNCTION, curlEasyHeader))
        set(CURLOPT_HEADERDATA, pointer: me)
        check(itv_easy_setopt_cb(handle, CURLOPT_WRITEFUNCTION, curlEasyBody))
        set(CURLOPT_WRITEDATA, pointer: me)
        check(itv_easy_setopt_cb(handle, CURLOPT_READFUNCTION, curlEasySupply))
        set(CURLOPT_READDATA, pointer: me)
    }

    deinit {
        curl_easy_cleanup(handle)
        for list in lists { curl_slist_free_all(list) }
        errorBuffer.deallocate()
        postFields?.deallocate()
    }

    private func check(_ code: CURLcode) { if code != CURLE_OK { ok = false } }

    public func set(_ option: CURLoption, _ value: Int) { check(itv_easy_setopt_long(handle, option, value)) }

    public func set(_ option: CURLoption, _ value: String) { check(itv_easy_setopt_str(handle, option, value)) }

    /// A `curl_off_t` option (`..._LARGE`).
    public func set(_ option: CURLoption, large value: Int64) {
        check(itv_easy_setopt_off(handle, option, curl_off_t(value)))
    }

    public func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) {
        check(itv_easy_setopt_ptr(handle, option, pointer))
    }

    /// A list option (`CURLOPT_HTTPHEADER`, `CURLOPT_MAIL_RCPT`); an empty list sets nothing.
    public func set(_ option: CURLoption, list items: [String]) {
        var list: UnsafeMutablePointer<curl_slist>?
        for item in items { list = curl_slist_append(list, item) }
        guard let list else { return }
        lists.append(list)
        check(itv_easy_setopt_slist(handle, option, list))
    }

    /// The request body of a POST, sent as is (`CURLOPT_POSTFIELDS`; kept here: libcurl does not copy it).
    public func postFields(_ body: some Collection<UInt8>) {
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(body.count, 1))
        _ = UnsafeMutableBufferPointer(start: bytes, count: body.count).initialize(from: body)
        postFields?.deallocate()
        postFields = bytes
        set(CURLOPT_POSTFIELDSIZE_LARGE, large: Int64(body.count))
        set(CURLOPT_POSTFIELDS, pointer: UnsafeMutableRawPointer(bytes))
    }

    /// What libcurl reads when it uploads (`CURLOPT_UPLOAD`, or a POST without `postFields`); the caller sets
    /// the size option that goes with it (`CURLOPT_INFILESIZE`, `CURLOPT_POSTFIELDSIZE`).
    public func upload(_ body: [UInt8]) {
        upload = body
        uploaded = 0
    }

    /// Runs the transfer to its end (blocking).
    public func perform() -> CURLcode { curl_easy_perform(handle) }

    /// What went wrong, in libcurl's words: the error buffer's detail, else the code's text.
    public func errorText(_ code: CURLcode) -> String {
        errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
    }

    /// A `long` of `curl_easy_getinfo` (0 when libcurl has none).
    public func info(_ item: CURLINFO) -> Int {
        var value = 0
        _ = itv_easy_getinfo_long(handle, item, &value)
        return value
    }

    /// A string of `curl_easy_getinfo` (nil when libcurl has none).
    public func infoText(_ item: CURLINFO) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        _ = itv_easy_getinfo_str(handle, item, &value)
        return value.map { String(cString: $0) }
    }
}

/// `curl_global_init` exactly once per process, before any handle exists (not thread-safe in libcurl: every
/// handle and multi handle of itv is made after this).
public enum CurlGlobal {
    private static let done: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        return true
    }()

    public static func initialize() { _ = done }
}

/// Bytes kept up to `limit`: an answer's body, or the part of it a message quotes.
public struct BoundedBytes: Sendable {
    public let limit: Int
    public private(set) var bytes: [UInt8] = []
    /// Something did not fit (it was dropped; what fit of it was kept).
    public private(set) var overflowed = false

    public init(limit: Int) { self.limit = limit }

    /// Keeps what fits of `piece`; false when some of it did not fit.
    @discardableResult
    public mutating func append(_ piece: UnsafeBufferPointer<UInt8>) -> Bool {
        let room = max(0, limit - bytes.count)
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: piece.prefix(room)))
        if piece.count > room { overflowed = true }
        return piece.count <= room
    }
}

private func easy(_ user: UnsafeMutableRawPointer) -> CurlEasy {
    Unmanaged<CurlEasy>.fromOpaque(user).takeUnretainedValue()
}

/// Hands the `n` bytes at `ptr` to `handler` (none: taken and dropped); what libcurl must hear back.
private func hand(
    _ ptr: UnsafeMutablePointer<CChar>, _ n: Int, to handler: ((UnsafeBufferPointer<UInt8>) -> Bool)?
) -> Int {
    guard let handler else { return n }
    let keep = ptr.withMemoryRebound(to: UInt8.self, capacity: n) { handler(UnsafeBufferPointer(start: $0, count: n)) }
    return keep ? n : 0
}

private let curlEasyHeader: itv_curl_data_cb = { ptr, size, count, user in
    guard let ptr, let user else { return 0 }
    return hand(ptr, size * count, to: easy(user).onHeader)
}

private let curlEasyBody: itv_curl_data_cb = { ptr, size, count, user in
    guard let ptr, let user else { return 0 }
    return hand(ptr, size * count, to: easy(user).onBody)
}

private let curlEasySupply: itv_curl_data_cb = { ptr, size, count, user in
    guard let ptr, let user else { return 0 }
    let e = easy(user)
    let n = min(size * count, e.upload.count - e.uploaded)
    guard n > 0 else { return 0 }
    e.upload.withUnsafeBufferPointer { b in
        ptr.withMemoryRebound(to: UInt8.self, capacity: n) { p in
            p.update(from: b.baseAddress! + e.uploaded, count: n)
        }
    }
    e.uploaded += n
    return n
}
