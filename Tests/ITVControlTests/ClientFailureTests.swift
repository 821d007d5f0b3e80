import Foundation
import Testing

/// What itvctl says, and how it exits, when the peer on the socket does not give a whole HTTP answer. These
/// pin the messages and exit codes of the hand-written client that libcurl replaced.
@Suite("itvctl: broken answers from the socket")
struct ClientFailureTests {
    private func status(answering response: String) async throws -> RunResult {
        let dir = try SocketDir()
        let listener = try OneShotServer(path: dir.socket, response: response)
        defer { listener.stop() }
        return try await itvctl(["status"], socket: dir.socket)
    }

    @Test("a peer that closes without answering: exit 69, no answer")
    func noAnswer() async throws {
        let result = try await status(answering: "")
        #expect(result.status == 69, "\(result.stderr)")
        #expect(result.stderr.contains("closed the connection without an answer"), "\(result.stderr)")
    }

    @Test("an answer cut short of its Content-Length: exit 69, cut in the middle")
    func truncated() async throws {
        let result = try await status(
            answering: "HTTP/1.1 200 OK\r\nITV-Protocol: 1\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{}")
        #expect(result.status == 69, "\(result.stderr)")
        #expect(result.stderr.contains("closed the connection in the middle of its answer"), "\(result.stderr)")
    }

    @Test("a peer that does not speak HTTP: exit 1, is it itvd?")
    func notHTTP() async throws {
        let result = try await status(answering: "SSH-2.0-OpenSSH_9.2p1\r\n\r\n")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("does not speak HTTP; is it itvd?"), "\(result.stderr)")
    }

    @Test("a malformed chunk: exit 1")
    func malformedChunk() async throws {
        let result = try await status(
            answering: "HTTP/1.1 200 OK\r\nITV-Protocol: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "zz\r\n{}\r\n0\r\n\r\n")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("malformed chunk"), "\(result.stderr)")
    }

    @Test("a proxy in the environment is not used for the Unix socket")
    func proxyIgnored() async throws {
        try await withServer { _, socket in
            let result = try await runChildAsync(
                binDir + "/itvctl", ["--socket", socket, "status"],
                environment: [
                    "PATH": "/usr/bin:/bin", "http_proxy": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9",
                ])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }
}
