import CCurl
import Foundation
import ITVEngine

/// One transfer: its easy handle, the body read so far (capped), and the response headers.
/// Lives on the fetch thread only; C callbacks reach it through an unretained pointer while `active` holds it.
final class CurlTransfer {
    let request: FeedRequest
    let easy: UnsafeMutableRawPointer
    private let completion: CurlMultiLoop.Completion
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var completed = false

    /// The fetcher's id of the request (for cancellation).
    var id: UInt64 = 0
    var body: [UInt8] = []
    /// Where the body goes instead of `body` (an artifact download: to a file, hashed on the way).
    var sink: ArtifactSink?
    var overCap = false
    /// A hop of this transfer was https; a later http hop is a downgrade and stops the transfer.
    private var sawHTTPS = false
    var downgraded = false
    /// Headers of the last response (a redirect hop's headers are dropped when the next status line comes).
    var headers: [String: String] = [:]
    /// The validator sent with the request (at most one of them), which a 304 must match to be believed.
    private(set) var sentETag: String?
    private(set) var sentLastModified: String?

    private init(request: FeedRequest, easy: UnsafeMutableRawPointer, completion: @escaping CurlMultiLoop.Completion) {
        self.request = request
        self.easy = easy
        self.completion = completion
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    static func make(
        _ request: FeedRequest, sink: ArtifactSink? = nil, configuration: CurlFeedFetcher.Configuration,
        completion: @escaping CurlMultiLoop.Completion
    ) -> Result<CurlTransfer, FeedFetchError> {
        guard let easy = curl_easy_init() else {
            return .failure(FeedFetchError(.io, "cannot fetch \(request.url): curl_easy_init failed"))
        }
        let t = CurlTransfer(request: request, easy: easy, completion: completion)
        t.sink = sink
        let isHTTPS = request.url.lowercased().hasPrefix("https://")
        let isFile = request.url.lowercased().hasPrefix("file://")
        let protocols = isFile ? "file" : (isHTTPS ? "https" : "http,https")
        // A redirect may never leave https: once the feed is https, every hop must be.
        let redirectProtocols = isHTTPS ? "https" : "http,https"
        var ok = true
        func check(_ code: CURLcode) { if code != CURLE_OK { ok = false } }
        check(itv_easy_setopt_str(easy, CURLOPT_URL, request.url))
        check(itv_easy_setopt_str(easy, CURLOPT_PROTOCOLS_STR, protocols))
        check(itv_easy_setopt_str(easy, CURLOPT_REDIR_PROTOCOLS_STR, redirectProtocols))
        check(itv_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1))
        check(itv_easy_setopt_long(easy, CURLOPT_MAXREDIRS, 5))
        check(itv_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check(itv_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        check(itv_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        check(itv_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout)))
        check(itv_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, milliseconds(request.totalTimeout)))
        check(itv_easy_setopt_off(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxBodyBytes)))
        if sink == nil {
            check(itv_easy_setopt_str(easy, CURLOPT_ACCEPT_ENCODING, ""))
        } else {
            // An artifact is taken byte for byte as served (no decoding), and a stalled transfer (under 1 KiB/s
            // for a minute) ends long before the total deadline of a large file.
            check(itv_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1_024))
            check(itv_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, 60))
        }
        check(itv_easy_setopt_str(easy, CURLOPT_USERAGENT, configuration.userAgent))
        check(itv_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, t.errorBuffer))
        if let ca = configuration.caBundlePath { check(itv_easy_setopt_str(easy, CURLOPT_CAINFO, ca)) }
        // The ETag is preferred: it names the content, where Last-Modified has a resolution of one second (a
        // document replaced within the second it was fetched keeps its date). With an ETag, only If-None-Match
        // is sent, so that no server can answer on the date instead (RFC 9110 13.1.3 says it must not).
        var list: UnsafeMutablePointer<curl_slist>?
        if let etag = request.etag, isSafeHeaderValue(etag) {
            t.sentETag = etag
            list = curl_slist_append(list, "If-None-Match: \(etag)")
        } else if let lm = request.lastModified, isSafeHeaderValue(lm) {
            t.sentLastModified = lm
            list = curl_slist_append(list, "If-Modified-Since: \(lm)")
        }
        if let list {
            t.headerList = list
            check(itv_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))
        }
        let me = Unmanaged.passUnretained(t).toOpaque()
        check(itv_easy_setopt_cb(easy, CURLOPT_WRITEFUNCTION, curlWrite))
        check(itv_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me))
        check(itv_easy_setopt_cb(easy, CURLOPT_HEADERFUNCTION, curlHeader))
        check(itv_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me))
        check(itv_easy_setopt_ptr(easy, CURLOPT_PRIVATE, me))
        guard ok else { return .failure(FeedFetchError(.io, "cannot fetch \(request.url): libcurl refused an option")) }
        return .success(t)
    }

    func complete(_ response: FeedResponse) {
        guard !completed else { return }
        completed = true
        completion(response)
    }

    /// Turns the end of the transfer into the port's answer.
    func response(for code: CURLcode) -> FeedResponse {
        let url = request.url
        if code != CURLE_OK { return .failed(error(for: code)) }
        var status = 0
        itv_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var effective: UnsafeMutablePointer<CChar>?
        itv_easy_getinfo_str(easy, CURLINFO_EFFECTIVE_URL, &effective)
        let effectiveURL = effective.map { String(cString: $0) } ?? url
        if url.lowercased().hasPrefix("file://") { status = 200 }
        switch status {
        case 200...299:
            return .fetched(
                FeedDocument(
                    body: body, contentType: headers["content-type"], etag: headers["etag"],
                    lastModified: headers["last-modified"], effectiveURL: effectiveURL))
        case 304 where believesNotModified:
            return .notModified
        case 304:
            return .failed(
                FeedFetchError(
                    .httpStatus, "\(url) answered 304 Not Modified for validators it does not hold", status: 304))
        default:
            let retry = headers["retry-after"].flatMap(HTTPDate.parseRetryAfter)
            return .failed(
                FeedFetchError(.httpStatus, "\(url) answered HTTP \(status)", status: status, retryAfter: retry))
        }
    }

    /// A 304 is believed only as an answer to the validator that was sent: a 304 that names another ETag (or,
    /// for If-Modified-Since, another Last-Modified) came from a server or cache that compared something else,
    /// and the document may have changed. ETags compare weakly (RFC 9110 8.8.3.2: `W/` is ignored).
    var believesNotModified: Bool {
        if let sent = sentETag {
            return headers["etag"].map { weakTag($0) == weakTag(sent) } ?? true
        }
        if let sent = sentLastModified {
            return headers["last-modified"].map { $0 == sent } ?? true
        }
        return false  // nothing was sent that a 304 could answer
    }

    private func error(for code: CURLcode) -> FeedFetchError {
        let url = request.url
        let detail = errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        var redirects = 0
        itv_easy_getinfo_long(easy, CURLINFO_REDIRECT_COUNT, &redirects)
        switch code {
        case CURLE_WRITE_ERROR where sink?.failure != nil:
            return FeedFetchError(.io, "\(url): cannot write the download: \(sink?.failure ?? "")")
        case CURLE_WRITE_ERROR where downgraded:
            return FeedFetchError(.redirectRefused, "\(url): a redirect went from https to http; refused")
        case CURLE_WRITE_ERROR where overCap, CURLE_FILESIZE_EXCEEDED:
            return FeedFetchError(.tooLarge, "\(url): the body is larger than the cap of \(request.maxBodyBytes) bytes")
        case CURLE_OPERATION_TIMEDOUT:
            return FeedFetchError(.timeout, "\(url): deadline passed (\(detail))")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return FeedFetchError(.tls, "\(url): TLS verification failed (\(detail))")
        case CURLE_TOO_MANY_REDIRECTS:
            return FeedFetchError(.redirectRefused, "\(url): more than 5 redirects (\(detail))")
        case CURLE_UNSUPPORTED_PROTOCOL where redirects > 0:
            return FeedFetchError(.redirectRefused, "\(url): redirect to a refused scheme, https never goes to http")
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return FeedFetchError(.invalidURL, "\(url): \(detail)")
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return FeedFetchError(.connectFailed, "\(url): \(detail)")
        case CURLE_FILE_COULDNT_READ_FILE, CURLE_READ_ERROR:
            return FeedFetchError(.io, "\(url): \(detail)")
        default:
            return FeedFetchError(.protocolError, "\(url): \(detail)")
        }
    }

    /// The response headers the fetcher uses; others are never turned into strings.
    private static let wanted: Set<String> = ["content-type", "etag", "last-modified", "retry-after"]
    static let maxHeaderValueBytes = 1_024

    /// Returns false to stop the transfer (a downgrade from https to http within a redirect chain; the
    /// protocol allow-list already refuses it when the feed itself is https).
    fileprivate func received(header line: UnsafeBufferPointer<UInt8>) -> Bool {
        if line.starts(with: "HTTP/".utf8) {
            headers.removeAll()
            var scheme: UnsafeMutablePointer<CChar>?
            itv_easy_getinfo_str(easy, CURLINFO_SCHEME, &scheme)
            let isHTTPS = scheme.map { String(cString: $0).lowercased() == "https" } ?? false
            if isHTTPS {
                sawHTTPS = true
            } else if sawHTTPS {
                downgraded = true
                return false
            }
            return true
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon <= 32 else { return true }
        let name = String(decoding: line[..<colon].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        guard Self.wanted.contains(name) else { return true }
        var start = colon + 1
        var end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, [0x20, 0x09, 0x0D, 0x0A].contains(line[end - 1]) { end -= 1 }
        // No header the fetcher uses is longer; a longer one (curl allows 100 KB) is taken as absent rather
        // than kept, stored with the feed's validators and sent back.
        guard end - start <= Self.maxHeaderValueBytes else { return true }
        headers[name] = String(decoding: UnsafeBufferPointer(rebasing: line[start..<end]), as: UTF8.self)
        return true
    }
}

private func milliseconds(_ d: Duration) -> Int {
    let (s, atto) = d.components
    return max(1, Int(s) * 1_000 + Int(atto / 1_000_000_000_000_000))
}

/// An entity tag without its weakness marker, for the weak comparison of If-None-Match.
private func weakTag(_ tag: String) -> Substring { tag.hasPrefix("W/") ? tag.dropFirst(2) : tag[...] }

/// Validators are echoed back to the server; refuse any that could split a header.
private func isSafeHeaderValue(_ s: String) -> Bool {
    s.utf8.count <= 1_024 && s.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
}

private let curlWrite: itv_curl_data_cb = { ptr, size, count, userdata in
    guard let ptr, let userdata else { return 0 }
    let t = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    if let sink = t.sink {
        if sink.count + Int64(n) > Int64(t.request.maxBodyBytes) {
            t.overCap = true
            return 0
        }
        let ok = ptr.withMemoryRebound(to: UInt8.self, capacity: n) {
            sink.write(UnsafeBufferPointer(start: $0, count: n))
        }
        return ok ? n : 0
    }
    if t.body.count + n > t.request.maxBodyBytes {
        t.overCap = true
        return 0
    }
    ptr.withMemoryRebound(to: UInt8.self, capacity: n) {
        t.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
    }
    return n
}

private let curlHeader: itv_curl_data_cb = { ptr, size, count, userdata in
    guard let ptr, let userdata else { return 0 }
    let t = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    guard n < 8_192 else { return n }
    let keepGoing = ptr.withMemoryRebound(to: UInt8.self, capacity: n) {
        t.received(header: UnsafeBufferPointer(start: $0, count: n))
    }
    return keepGoing ? n : 0
}
