import Foundation
import ITVControlServer
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Socket activation")
struct ActivationTests {
    @Test("a listening socket passed by LISTEN_PID/LISTEN_FDS is used, and its file is left to systemd")
    func activation() async throws {
        let dir = try SocketDir()
        // What systemd does for itvd.socket: bind and listen, then pass the descriptor.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(dir.socket.utf8))
            raw[dir.socket.utf8.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(listen(fd, 16) == 0)
        var config = ControlServerConfig(
            socketPath: dir.path + "/not-used.sock", operatorGroups: [], readerGroups: [],
            environment: ["LISTEN_PID": String(getpid()), "LISTEN_FDS": "1"])
        config.activationFirstFD = fd
        let server = ControlServer(config: config, service: FakeControlService(), logger: quietLogger)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        #expect(server.usesSocketActivation)
        let result = try await itvctl(["status"], socket: dir.socket)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(access(dir.path + "/not-used.sock", F_OK) != 0)
        task.cancel()
        _ = try? await task.value
        #expect(access(dir.socket, F_OK) == 0)
    }

    @Test("LISTEN_FDS for another process is ignored")
    func otherProcess() async throws {
        let dir = try SocketDir()
        let config = ControlServerConfig(
            socketPath: dir.socket, operatorGroups: [], readerGroups: [],
            environment: ["LISTEN_PID": "1", "LISTEN_FDS": "1"])
        let server = ControlServer(config: config, service: FakeControlService(), logger: quietLogger)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        #expect(!server.usesSocketActivation)
        #expect(access(dir.socket, F_OK) == 0)
        task.cancel()
        _ = try? await task.value
    }
}
