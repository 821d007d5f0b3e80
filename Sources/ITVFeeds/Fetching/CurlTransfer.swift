import CCurl
import Foundation
import ITVCurl
import ITVEngine

/// One transfer: its easy handle, the body read so far (capped), and the response headers.
/// Lives on the fetch thread only; libcurl's callbacks reach it through `curl`'s closures while `active` holds it.
final class CurlTransfer {
    let request: FeedRequest
    let curl: CurlEasy
    /// The easy handle, as the multi handle knows it.
    var easy: UnsafeMutableRawPointer { curl.handle }
    private let completion: CurlMultiLoop.Completion
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

    private init(request: FeedRequest, curl: CurlEasy, completion: @escaping CurlMultiLoop.Completion) {
        self.request = request
        self.curl = curl
        self.completion = completion
    }

    static func make(
        _ request: FeedRequest, sink: ArtifactSink? = nil, configuration: CurlFeedFetcher.Configuration,
        completion: @escaping CurlMultiLoop.Completion
    ) -> Result<CurlTransfer, FeedFetchError> {
        guard let curl = CurlEasy() else {
            return .failure(FeedFetchError(.io, "cannot fetch \(request.url): curl_easy_init failed"))
        }
        let t = CurlTransfer(request: request, curl: curl, completion: completion)
        t.sink = sink
        let isHTTPS = request.url.lowercased().hasPrefix("https://")
        let isFile = request.url.lowercased().hasPrefix("file://")
        let protocols = isFile ? "file" : (isHTTPS ? "https" : "http,https")
        // A redirect may never leave https: once the feed is https, every hop must be.
        let redirectProtocols = isHTTPS ? "https" : "http,https"
        curl.set(CURLOPT_URL, request.url)
        curl.set(CURLOPT_PROTOCOLS_STR, protocols)
        curl.set(CURLOPT_REDIR_PROTOCOLS_STR, redirectProtocols)
        curl.set(CURLOPT_FOLLOWLOCATION, 1)
        curl.set(CURLOPT_MAXREDIRS, 5)
        curl.set(CURLOPT_NOSIGNAL, 1)
        curl.set(CURLOPT_SSL_VERIFYPEER, 1)
        curl.set(CURLOPT_SSL_VERIFYHOST, 2)
        curl.set(CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout))
        curl.set(CURLOPT_TIMEOUT_MS, milliseconds(request.totalTimeout))
        curl.set(CURLOPT_MAXFILESIZE_LARGE, large: Int64(request.maxBodyBytes))
        if sink == nil {
            curl.set(CURLOPT_ACCEPT_ENCODING, "")
        } else {
            // An artifact is taken byte for byte as served (no decoding), and a stalled transfer (under 1 KiB/s
            // for a minute) ends long before the total deadline of a large file.
            curl.set(CURLOPT_LOW_SPEED_LIMIT, 1_024)
            curl.set(CURLOPT_LOW_SPEED_TIME, 60)
        }
        curl.set(CURLOPT_USERAGENT, configuration.userAgent)
        if let ca = configuration.caBundlePath { curl.set(CURLOPT_CAINFO, ca) }
        // The ETag is preferred: it names the content, where Last-Modified has a resolution of one second (a
        // document replaced within the second it was fetched keeps its date). With an ETag, only If-None-Match
        // is sent, so that no server can answer on the date instead (RFC 9110 13.1.3 says it must not).
        if let etag = request.etag, isSafeHeaderValue(etag) {
            t.sentETag = etag
            curl.set(CURLOPT_HTTPHEADER, list: ["If-None-Match: \(etag)"])
        } else if let lm = request.lastModified, isSafeHeaderValue(lm) {
            t.sentLastModified = lm
            curl.set(CURLOPT_HTTPHEADER, list: ["If-Modified-Since: \(lm)"])
        }
        // The transfer owns `curl`: the closures hold it unowned (no cycle); it outlives every callback.
        curl.onBody = { [unowned t] in t.received(body: $0) }
        curl.onHeader = { [unowned t] line in line.count < 8_192 ? t.received(header: line) : true }
        curl.set(CURLOPT_PRIVATE, pointer: Unmanaged.passUnretained(t).toOpaque())
        guard curl.ok else {
            return .failure(FeedFetchError(.io, "cannot fetch \(request.url): libcurl refused an option"))
        }
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
        var status = curl.info(CURLINFO_RESPONSE_CODE)
        let effectiveURL = curl.infoText(CURLINFO_EFFECTIVE_URL) ?? url
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
        let detail = curl.errorText(code)
        let redirects = curl.info(CURLINFO_REDIRECT_COUNT)
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
    private func received(header line: UnsafeBufferPointer<UInt8>) -> Bool {
        if line.starts(with: "HTTP/".utf8) {
            headers.removeAll()
            let isHTTPS = curl.infoText(CURLINFO_SCHEME)?.lowercased() == "https"
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

extension CurlTransfer {
    /// A piece of the body: into the sink (an artifact) or `body`, up to the request's cap; false stops the
    /// transfer (over the cap, or the sink could not write).
    fileprivate func received(body piece: UnsafeBufferPointer<UInt8>) -> Bool {
        if let sink {
            if sink.count + Int64(piece.count) > Int64(request.maxBodyBytes) {
                overCap = true
                return false
            }
            return sink.write(piece)
        }
        if body.count + piece.count > request.maxBodyBytes {
            overCap = true
            return false
        }
        body.append(contentsOf: piece)
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
