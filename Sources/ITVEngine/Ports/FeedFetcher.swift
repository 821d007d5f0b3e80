import Foundation

/// One fetch of a vendor feed, with the validators of the last good response (conditional GET).
public struct FeedRequest: Hashable, Sendable {
    /// `https://...`; `http://...` only with `allowHTTP`; `file://...` always.
    public var url: String
    /// The playbook's `allow_http`: plain http allowed for this feed (redirects still never go https -> http).
    public var allowHTTP: Bool
    /// The `ETag` of the last good response, sent as `If-None-Match`.
    public var etag: String?
    /// The `Last-Modified` of the last good response, sent as `If-Modified-Since`.
    public var lastModified: String?
    /// Deadline for the TCP (and TLS) connection.
    public var connectTimeout: Duration
    /// Deadline for the whole fetch, redirects included.
    public var totalTimeout: Duration
    /// Cap on the body after decompression; the transfer stops past it.
    public var maxBodyBytes: Int

    public init(
        url: String, allowHTTP: Bool = false, etag: String? = nil, lastModified: String? = nil,
        connectTimeout: Duration = .seconds(10), totalTimeout: Duration = .seconds(30),
        maxBodyBytes: Int = 4 * 1024 * 1024
    ) {
        self.url = url
        self.allowHTTP = allowHTTP
        self.etag = etag
        self.lastModified = lastModified
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maxBodyBytes = maxBodyBytes
    }
}

/// The validators of a feed's last good document, kept across restarts (the store's feed state, as JSON).
public struct FeedValidators: Hashable, Sendable, Codable {
    public var etag: String?
    public var lastModified: String?

    public init(etag: String? = nil, lastModified: String? = nil) {
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// A feed document as fetched: the body bytes and what the server said about them.
public struct FeedDocument: Hashable, Sendable {
    public var body: [UInt8]
    /// `Content-Type` as sent (its `charset` parameter decides the encoding before BOM and XML declaration).
    public var contentType: String?
    public var etag: String?
    public var lastModified: String?
    /// The URL after redirects (relative links resolve against it).
    public var effectiveURL: String

    public init(
        body: [UInt8], contentType: String? = nil, etag: String? = nil, lastModified: String? = nil,
        effectiveURL: String
    ) {
        self.body = body
        self.contentType = contentType
        self.etag = etag
        self.lastModified = lastModified
        self.effectiveURL = effectiveURL
    }
}

/// A `Retry-After` header value: delta seconds or an HTTP date.
public enum RetryAfter: Hashable, Sendable {
    case seconds(Int)
    case date(Date)

    /// The wait from `now`, never negative.
    public func delay(from now: Date) -> Duration {
        switch self {
        case .seconds(let s): return .seconds(max(0, s))
        case .date(let d): return .seconds(max(0, Int(d.timeIntervalSince(now).rounded(.up))))
        }
    }
}

/// Why a fetch failed. `kind` is stable (journal, JSON).
public struct FeedFetchError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case invalidURL = "invalid_url"
        case insecureURL = "insecure_url"
        case connectFailed = "connect_failed"
        case timeout
        case tooLarge = "too_large"
        case tls
        case redirectRefused = "redirect_refused"
        case httpStatus = "http_status"
        case protocolError = "protocol_error"
        case io
        /// The polling task was cancelled (shutdown); the transfer was aborted.
        case cancelled
    }

    public var kind: Kind
    public var message: String
    /// The HTTP status for `http_status`.
    public var status: Int?
    /// What the server asked for (429, 503), if it said.
    public var retryAfter: RetryAfter?

    public init(_ kind: Kind, _ message: String, status: Int? = nil, retryAfter: RetryAfter? = nil) {
        self.kind = kind
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// What one fetch produced.
public enum FeedResponse: Hashable, Sendable {
    /// A new body (200).
    case fetched(FeedDocument)
    /// 304: the document has not changed since the validators were taken.
    case notModified
    case failed(FeedFetchError)
}

/// The port through which the engine fetches vendor feeds (libcurl in production).
/// An implementation never blocks the caller's thread and honours every deadline and cap of the request.
public protocol FeedFetcher: Sendable {
    func fetch(_ request: FeedRequest) async -> FeedResponse
}
