import CCurl
import Foundation
import ITVCurl
import ITVEngine
import ITVProtocol
import Synchronization

/// The libcurl adapter of the `FeedFetcher` port.
///
/// Every transfer runs on ONE dedicated thread that drives a curl multi handle, so no blocking call ever
/// runs on Swift's cooperative pool, connections to a host are reused across polls (the 304 pass costs
/// little), and many slow feeds cost no threads. Each transfer has a connect and a total deadline, a body
/// cap counted after decompression, TLS verification, and a protocol allow-list per hop of a redirect.
public final class CurlFeedFetcher: FeedFetcher, Sendable {
    /// How the fetcher behaves for every request.
    public struct Configuration: Sendable {
        /// Sent on every request; identifies the daemon to vendors.
        public var userAgent: String
        /// PEM bundle of trusted CAs instead of the system's (tests use their own CA).
        public var caBundlePath: String?
        /// Connections (and so requests) at a time to one host; the scheduler holds the same limit.
        public var maxConnectionsPerHost: Int
        /// Connections at a time overall.
        public var maxTotalConnections: Int

        public init(
            userAgent: String = CurlFeedFetcher.defaultUserAgent, caBundlePath: String? = nil,
            maxConnectionsPerHost: Int = 2, maxTotalConnections: Int = 32
        ) {
            self.userAgent = userAgent
            self.caBundlePath = caBundlePath
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.maxTotalConnections = maxTotalConnections
        }
    }

    /// `itvd/<release>`, the one version constant (`ITVRelease.version`) that `itvd --version` prints too.
    public static let defaultUserAgent =
        "itvd/\(ITVRelease.version) (+https://itv.invalid/feeds; release-feed watcher)"

    private let loop: CurlMultiLoop

    public init(configuration: Configuration = Configuration()) {
        loop = CurlMultiLoop(configuration: configuration)
        loop.start()
    }

    deinit { loop.stop() }

    /// Stops the transfer thread; requests still running fail with `io`. Safe to call twice.
    public func close() { loop.stop() }

    public func fetch(_ request: FeedRequest) async -> FeedResponse {
        if case .failure(let error) = Self.checkURL(request) { return .failed(error) }
        let response = await transfer(request)
        // A 304 that does not match the validator sent is not believed (see `CurlTransfer.believesNotModified`):
        // the document is fetched again without validators.
        if case .failed(let error) = response, error.kind == .httpStatus, error.status == 304,
            request.etag != nil || request.lastModified != nil
        {
            var unconditional = request
            unconditional.etag = nil
            unconditional.lastModified = nil
            return await transfer(unconditional)
        }
        return response
    }

    /// Streams `request.url` into `sink` (same rules as a feed: scheme allow-list per hop, TLS verified, at
    /// most 5 redirects, never https to http, deadlines; the cap is `request.maxBodyBytes`). On success the
    /// document's body is empty: the bytes are in the sink.
    func download(_ request: FeedRequest, into sink: ArtifactSink) async -> FeedResponse {
        if case .failure(let error) = Self.checkURL(request) { return .failed(error) }
        return await transfer(request, sink: sink)
    }

    private func transfer(_ request: FeedRequest, sink: ArtifactSink? = nil) async -> FeedResponse {
        let id = loop.nextID()
        // A cancelled poll (shutdown) aborts its transfer at once instead of waiting for its deadline.
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                loop.submit(id, request, sink: sink) { continuation.resume(returning: $0) }
            }
        } onCancel: {
            loop.cancel(id)
        }
    }

    /// The scheme rules: https always, http only when allowed, file:// always; nothing else.
    static func checkURL(_ request: FeedRequest) -> Result<Void, FeedFetchError> {
        let lower = request.url.lowercased()
        if lower.hasPrefix("https://") || lower.hasPrefix("file://") { return .success(()) }
        if lower.hasPrefix("http://") {
            if request.allowHTTP { return .success(()) }
            return .failure(
                FeedFetchError(
                    .insecureURL, "refusing plain http for \(request.url): the playbook does not set allow_http"))
        }
        return .failure(FeedFetchError(.invalidURL, "cannot fetch \(request.url): only https, http and file URLs"))
    }
}

/// The thread that owns the multi handle. Its mutable state is touched only on that thread, except
/// `queue` and `stopping`, which are guarded by the mutex.
final class CurlMultiLoop: @unchecked Sendable {
    typealias Completion = @Sendable (FeedResponse) -> Void

    private struct State {
        var queue: [(UInt64, FeedRequest, ArtifactSink?, Completion)] = []
        var cancelled: [UInt64] = []
        var stopping = false
        var running = false
        /// The multi handle is cleaned up: no more wakeups.
        var closed = false
        var lastID: UInt64 = 0
    }

    private let configuration: CurlFeedFetcher.Configuration
    private let state = Mutex(State())
    private let multi: UnsafeMutableRawPointer
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private var activeByID: [UInt64: UnsafeMutableRawPointer] = [:]
    /// Cancellations that arrived before their submission was taken from the queue.
    private var cancelledEarly: Set<UInt64> = []
    private let finished = DispatchSemaphore(value: 0)

    init(configuration: CurlFeedFetcher.Configuration) {
        CurlGlobal.initialize()
        self.configuration = configuration
        guard let handle = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        multi = handle
        itv_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        itv_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxTotalConnections)
    }

    func start() {
        state.withLock { $0.running = true }
        let thread = Thread { [self] in run() }
        thread.name = "itv-feed-fetch"
        thread.start()
    }

    func nextID() -> UInt64 {
        state.withLock { s in
            s.lastID += 1
            return s.lastID
        }
    }

    func submit(_ id: UInt64, _ request: FeedRequest, sink: ArtifactSink? = nil, completion: @escaping Completion) {
        let accepted = state.withLock { s -> Bool in
            if s.stopping { return false }
            s.queue.append((id, request, sink, completion))
            // Under the lock, so the loop cannot clean the handle up in between.
            curl_multi_wakeup(multi)
            return true
        }
        if !accepted {
            completion(.failed(FeedFetchError(.io, "cannot fetch \(request.url): the fetcher is closed")))
        }
    }

    func cancel(_ id: UInt64) {
        state.withLock { s in
            guard !s.closed else { return }
            s.cancelled.append(id)
            curl_multi_wakeup(multi)
        }
    }

    func stop() {
        let wasRunning = state.withLock { s -> Bool in
            let r = s.running && !s.stopping
            s.stopping = true
            return r
        }
        guard wasRunning else { return }
        state.withLock { s in if !s.closed { curl_multi_wakeup(multi) } }
        finished.wait()
    }

    private func run() {
        var stillRunning: Int32 = 0
        while true {
            let (work, cancelled, stopping) = state.withLock { s in
                let w = (s.queue, s.cancelled, s.stopping)
                s.queue.removeAll()
                s.cancelled.removeAll()
                return w
            }
            if stopping {
                for (_, request, _, completion) in work {
                    completion(.failed(FeedFetchError(.io, "cannot fetch \(request.url): the fetcher is closed")))
                }
                break
            }
            cancelledEarly.formUnion(cancelled)
            for (id, request, sink, completion) in work {
                if cancelledEarly.remove(id) != nil {
                    completion(.failed(FeedFetchError(.cancelled, "fetching \(request.url) was cancelled")))
                } else {
                    add(id, request, sink, completion)
                }
            }
            for id in cancelled {
                guard let easy = activeByID.removeValue(forKey: id), let transfer = active.removeValue(forKey: easy)
                else { continue }
                cancelledEarly.remove(id)
                curl_multi_remove_handle(multi, easy)
                transfer.complete(.failed(FeedFetchError(.cancelled, "fetching \(transfer.request.url) was cancelled")))
            }
            curl_multi_perform(multi, &stillRunning)
            collectFinished()
            curl_multi_poll(multi, nil, 0, 1_000, nil)
        }
        for (easy, transfer) in active {
            curl_multi_remove_handle(multi, easy)
            transfer.complete(.failed(FeedFetchError(.io, "cannot fetch \(transfer.request.url): the fetcher closed")))
        }
        active.removeAll()
        activeByID.removeAll()
        state.withLock { s in
            s.closed = true
            curl_multi_cleanup(multi)
        }
        finished.signal()
    }

    private func add(_ id: UInt64, _ request: FeedRequest, _ sink: ArtifactSink?, _ completion: @escaping Completion) {
        switch CurlTransfer.make(request, sink: sink, configuration: configuration, completion: completion) {
        case .failure(let error):
            completion(.failed(error))
        case .success(let transfer):
            active[transfer.easy] = transfer
            activeByID[id] = transfer.easy
            transfer.id = id
            curl_multi_add_handle(multi, transfer.easy)
        }
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            guard let transfer = active.removeValue(forKey: easy) else { continue }
            activeByID[transfer.id] = nil
            transfer.complete(transfer.response(for: code))
        }
    }
}
