import Foundation
import ITVEngine
import ITVTestSupport
import Testing

@testable import ITVFeeds

/// Conditional GET when the feed's document changes within the second it was fetched: Last-Modified (one-second
/// resolution) stays the same, only the ETag tells the versions apart. Against real HTTP servers.
@Suite(.serialized) struct ConditionalGetTests {
    private func fetcher(_ server: TestServer) -> CurlFeedFetcher {
        CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
    }

    /// The first fetch, then the vendor publishes `version` at once; the validators of the first fetch.
    private func fetchThenPublish(
        _ f: CurlFeedFetcher, _ server: TestServer, _ url: String, _ version: String
    ) async throws -> FeedDocument {
        guard case .fetched(let first) = await f.fetch(FeedRequest(url: url)) else {
            throw TestServer.StartError(description: "the first fetch of \(url) did not return the document")
        }
        #expect(String(decoding: first.body, as: UTF8.self).contains("v1.0.0"))
        #expect(first.etag != nil && first.lastModified != nil, "the server sends both validators")
        let publish = await f.fetch(FeedRequest(url: server.https("/publish/app?v=\(version)")))
        guard case .fetched = publish else { throw TestServer.StartError(description: "publishing: \(publish)") }
        return first
    }

    @Test func theETagIsPreferredOverASameSecondLastModified() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        // This server answers on If-Modified-Since whenever it is sent, even beside If-None-Match.
        let url = server.https("/mutable/app?mode=date-first")
        let first = try await fetchThenPublish(f, server, url, "1.1.0")
        let again = await f.fetch(FeedRequest(url: url, etag: first.etag, lastModified: first.lastModified))
        guard case .fetched(let second) = again else {
            Issue.record("the changed document was not fetched: \(again)")
            return
        }
        #expect(String(decoding: second.body, as: UTF8.self).contains("v1.1.0"))
        #expect(second.lastModified == first.lastModified, "the same second: only the ETag differs")
        #expect(second.etag != first.etag)
        // Unchanged since: 304, and the document was asked for once per fetch (no second, unconditional try).
        #expect(
            await f.fetch(FeedRequest(url: url, etag: second.etag, lastModified: second.lastModified)) == .notModified)
        #expect(try server.stats().counts["/mutable/app"] == 3)
    }

    @Test func a304ForAnotherETagIsNotBelieved() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        // A broken cache: 304 to every conditional request, naming the ETag of what it would have served.
        let url = server.https("/mutable/app?mode=stale")
        let first = try await fetchThenPublish(f, server, url, "1.2.0")
        let again = await f.fetch(FeedRequest(url: url, etag: first.etag, lastModified: first.lastModified))
        guard case .fetched(let second) = again else {
            Issue.record("a 304 naming another ETag was believed: \(again)")
            return
        }
        #expect(String(decoding: second.body, as: UTF8.self).contains("v1.2.0"))
        // A 304 that names the ETag sent is believed.
        #expect(await f.fetch(FeedRequest(url: url, etag: second.etag)) == .notModified)
        #expect(await f.fetch(FeedRequest(url: url, etag: "W/" + (second.etag ?? ""))) == .notModified)
    }

    @Test func anRFCServerAnswersEitherValidator() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let f = fetcher(server)
        defer { f.close() }
        let url = server.https("/mutable/app?mode=rfc")
        guard case .fetched(let doc) = await f.fetch(FeedRequest(url: url)) else {
            Issue.record("the first fetch did not return the document")
            return
        }
        #expect(await f.fetch(FeedRequest(url: url, etag: doc.etag, lastModified: doc.lastModified)) == .notModified)
        #expect(await f.fetch(FeedRequest(url: url, lastModified: doc.lastModified)) == .notModified)
        #expect(await f.fetch(FeedRequest(url: url, etag: "\"other\"")) != .notModified)
    }

    /// `make demo`'s vendor feed (scripts/demo/feed-server.py): the release file is replaced within the second
    /// it was fetched, as when a rollout ends and the next release is published at once.
    @Test func theDemosFeedServerShowsASameSecondChange() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("itv-demo-feed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("releases.json")
        let fixed = Date(timeIntervalSince1970: 1_700_000_000)
        try Data(#"{"latest": {"version": "1.1.0"}}"#.utf8).write(to: file)
        try FileManager.default.setAttributes([.modificationDate: fixed], ofItemAtPath: file.path)
        let server = try DemoFeedServer(directory: dir.path)
        defer { server.stop() }
        let f = CurlFeedFetcher()
        defer { f.close() }
        let url = "http://127.0.0.1:\(server.port)/releases.json"
        guard case .fetched(let first) = await f.fetch(FeedRequest(url: url, allowHTTP: true)) else {
            Issue.record("the first fetch did not return the document")
            return
        }
        #expect(first.etag?.hasPrefix("\"") == true, "a strong ETag: \(first.etag ?? "none")")
        #expect(first.lastModified != nil)
        #expect(
            await f.fetch(
                FeedRequest(url: url, allowHTTP: true, etag: first.etag, lastModified: first.lastModified))
                == .notModified)
        // 1.2.0 within the same second: same modification time, same length, other content.
        try Data(#"{"latest": {"version": "1.2.0"}}"#.utf8).write(to: file)
        try FileManager.default.setAttributes([.modificationDate: fixed], ofItemAtPath: file.path)
        let again = await f.fetch(
            FeedRequest(url: url, allowHTTP: true, etag: first.etag, lastModified: first.lastModified))
        guard case .fetched(let second) = again else {
            Issue.record("the release published within the same second was not fetched: \(again)")
            return
        }
        #expect(String(decoding: second.body, as: UTF8.self).contains("1.2.0"))
        #expect(second.lastModified == first.lastModified && second.etag != first.etag)
    }
}

/// `scripts/demo/feed-server.py DIR 0` on 127.0.0.1, stopped by PID.
final class DemoFeedServer: @unchecked Sendable {
    let port: Int
    private let process: Process

    init(directory: String) throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [repo.appendingPathComponent("scripts/demo/feed-server.py").path, directory, "0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            kill(process.processIdentifier, SIGKILL)
            throw TestServer.StartError(description: "the demo's feed server did not start")
        }
        self.port = port
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
