import Foundation
import ITVEngine
import ITVProtocol
import ITVTestSupport
import Testing

@testable import ITVFeeds

private func fetcher(_ server: TestServer) -> CurlFeedFetcher {
    CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
}

private func failure(_ r: FeedResponse) -> FeedFetchError? {
    if case .failed(let e) = r { return e }
    return nil
}

@Suite(.serialized) struct FetcherTests {
    @Test func conditionalGetReusesTheDocumentOn304() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        guard case .fetched(let doc) = await f.fetch(FeedRequest(url: server.https("/feed/app"))) else {
            Issue.record("the first fetch did not return the document")
            return
        }
        #expect(String(decoding: doc.body, as: UTF8.self).contains("v2.0.0"))
        #expect(doc.etag != nil && doc.lastModified != nil)
        #expect(doc.contentType?.contains("charset=utf-8") == true)
        #expect(await f.fetch(FeedRequest(url: server.https("/feed/app"), etag: doc.etag)) == .notModified)
        #expect(
            await f.fetch(FeedRequest(url: server.https("/feed/app"), lastModified: doc.lastModified)) == .notModified)
        let stats = try server.stats()
        #expect(stats.agents.contains { $0.hasPrefix("itvd/") })
        // The release that `itvd --version` prints, not a second version constant.
        #expect(stats.agents.contains { $0.hasPrefix("itvd/\(ITVRelease.version) ") })
    }

    /// A validator too long to be real (4,000 characters) is taken as absent: not kept, stored or sent back.
    @Test func anOverlongValidatorIsIgnored() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        guard case .fetched(let doc) = await f.fetch(FeedRequest(url: server.https("/long-validators"))) else {
            Issue.record("the fetch did not return the document")
            return
        }
        #expect(doc.etag == nil)
        #expect(doc.lastModified != nil)
        #expect(String(decoding: doc.body, as: UTF8.self).contains("v2.0.0"))
    }

    @Test func retryAfterInBothForms() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        let seconds = failure(await f.fetch(FeedRequest(url: server.https("/retry-seconds"))))
        #expect(seconds?.kind == .httpStatus && seconds?.status == 503)
        #expect(seconds?.retryAfter == .seconds(120))
        let date = failure(await f.fetch(FeedRequest(url: server.https("/retry-date"))))
        #expect(date?.status == 429)
        let wait = date?.retryAfter?.delay(from: Date()) ?? .zero
        #expect(wait > .seconds(3_000) && wait <= .seconds(3_601))
    }

    @Test func hostileBodiesStopAtTheirCapsWhileOtherFeedsAreFetched() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        let clock = ContinuousClock()
        let start = clock.now
        async let big = f.fetch(FeedRequest(url: server.https("/big"), totalTimeout: .seconds(60)))
        async let bigNoLength = f.fetch(FeedRequest(url: server.https("/big-nolength"), totalTimeout: .seconds(60)))
        async let endless = f.fetch(FeedRequest(url: server.https("/endless"), totalTimeout: .seconds(60)))
        async let bomb = f.fetch(FeedRequest(url: server.https("/gzip-bomb"), totalTimeout: .seconds(60)))
        let slowTask = Task {
            let r = await f.fetch(FeedRequest(url: server.https("/slow"), totalTimeout: .seconds(10)))
            return (r, ContinuousClock.now)
        }
        // Meanwhile, ordinary feeds on the same fetcher are fetched promptly.
        for i in 0..<5 {
            let r = await f.fetch(FeedRequest(url: server.http("/feed/other\(i)"), allowHTTP: true))
            guard case .fetched = r else {
                Issue.record("an ordinary feed failed while hostile ones ran: \(r)")
                return
            }
        }
        let ordinaryDone = clock.now
        #expect(failure(await big)?.kind == .tooLarge)
        #expect(failure(await bigNoLength)?.kind == .tooLarge)
        #expect(failure(await endless)?.kind == .tooLarge)
        #expect(failure(await bomb)?.kind == .tooLarge)
        let (slow, slowEnded) = await slowTask.value
        #expect(failure(slow)?.kind == .timeout)
        #expect(ordinaryDone < slowEnded, "ordinary feeds waited for the hostile ones")
        #expect(clock.now - start < .seconds(60))
    }

    @Test func redirectsAreLimitedAndNeverLeaveHTTPS() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        guard case .fetched(let doc) = await f.fetch(FeedRequest(url: server.https("/redirect/5"))) else {
            Issue.record("five redirects should be followed")
            return
        }
        #expect(doc.effectiveURL.hasSuffix("/feed/redirected"))
        #expect(failure(await f.fetch(FeedRequest(url: server.https("/redirect/6"))))?.kind == .redirectRefused)
        #expect(failure(await f.fetch(FeedRequest(url: server.https("/redirect-loop"))))?.kind == .redirectRefused)
        let down = failure(await f.fetch(FeedRequest(url: server.https("/to-http"), allowHTTP: true)))
        #expect(down?.kind == .redirectRefused)
        #expect(try server.stats().counts["/feed/plain"] == nil)
        // Even for an allow_http feed, once a hop was https, a later http hop is refused.
        let chain = failure(await f.fetch(FeedRequest(url: server.http("/via-https"), allowHTTP: true)))
        #expect(chain?.kind == .redirectRefused)
        // An allow_http feed may be redirected within http.
        guard case .fetched = await f.fetch(FeedRequest(url: server.http("/redirect/1"), allowHTTP: true)) else {
            Issue.record("an allow_http feed redirecting within http should be followed")
            return
        }
    }

    @Test func tlsIsVerified() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        // The certificate names 127.0.0.1 only.
        let wrongName = failure(await f.fetch(FeedRequest(url: "https://localhost:\(server.httpsPort)/feed/x")))
        #expect(wrongName?.kind == .tls)
        // Without the test CA, the chain is not trusted.
        let system = CurlFeedFetcher()
        defer { system.close() }
        #expect(failure(await system.fetch(FeedRequest(url: server.https("/feed/x"))))?.kind == .tls)
    }

    @Test func schemesAreChecked() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        #expect(failure(await f.fetch(FeedRequest(url: server.http("/feed/x"))))?.kind == .insecureURL)
        guard case .fetched = await f.fetch(FeedRequest(url: server.http("/feed/x"), allowHTTP: true)) else {
            Issue.record("allow_http should allow plain http")
            return
        }
        #expect(failure(await f.fetch(FeedRequest(url: "ftp://127.0.0.1/x")))?.kind == .invalidURL)
        let file = server.directory.appendingPathComponent("feed.xml")
        try Data("<rss/>".utf8).write(to: file)
        #expect(await f.fetch(FeedRequest(url: file.absoluteString)) != .notModified)
        guard case .fetched(let doc) = await f.fetch(FeedRequest(url: file.absoluteString)) else {
            Issue.record("file:// feeds should be read")
            return
        }
        #expect(doc.body == Array("<rss/>".utf8))
        #expect(
            failure(await f.fetch(FeedRequest(url: "https://127.0.0.1:1/x", connectTimeout: .seconds(2))))?.kind
                == .connectFailed)
    }

    @Test func cancellingAPollAbortsItsTransfer() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        let start = ContinuousClock.now
        let task = Task { await f.fetch(FeedRequest(url: server.https("/slow"), totalTimeout: .seconds(120))) }
        try await Task.sleep(for: .milliseconds(500))
        task.cancel()
        let r = await task.value
        #expect(failure(r)?.kind == .cancelled)
        #expect(ContinuousClock.now - start < .seconds(30))
        // The fetcher still works afterwards.
        guard case .fetched = await f.fetch(FeedRequest(url: server.https("/feed/after"))) else {
            Issue.record("the fetcher broke after a cancellation")
            return
        }
    }
}
