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
        let fd = try bindUnixSocket(dir.socket, listening: true, backlog: 16)
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

    @Test("without LISTEN_PID/LISTEN_FDS there is no passed socket: the server binds its own")
    func nothingPassed() async throws {
        let dir = try SocketDir()
        for environment in [[:], ["LISTEN_FDS": "1"], ["LISTEN_PID": String(getpid())]] {
            let config = ControlServerConfig(
                socketPath: dir.socket, operatorGroups: [], readerGroups: [], environment: environment)
            let server = ControlServer(config: config, service: FakeControlService(), logger: quietLogger)
            let task = Task { try await server.run() }
            try await server.waitUntilListening()
            #expect(!server.usesSocketActivation, "\(environment)")
            #expect(access(dir.socket, F_OK) == 0)
            task.cancel()
            _ = try? await task.value
        }
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
