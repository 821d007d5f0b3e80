import Foundation
import ITVControlServer
import Logging
import ServiceLifecycle
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test("graceful shutdown closes idle keep-alive connections, stops listening and removes the socket file")
    func gracefulShutdown() async throws {
        let dir = try SocketDir()
        let server = ControlServer(
            config: ControlServerConfig(
                socketPath: dir.socket, operatorGroups: [], readerGroups: [], requestDeadline: .seconds(120),
                allowSocketActivation: false),
            service: FakeControlService(), logger: quietLogger)
        let group = ServiceGroup(services: [server], logger: quietLogger)
        let socket = dir.socket
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await server.waitUntilListening()
            // A keep-alive client that got its answer and stays connected.
            let idle = try RawClient(socket)
            idle.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            let answered = await Task.detached { idle.readUntil("\"tenants\":12}") }.value
            #expect(answered)
            let start = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await tasks.next()
            // Far below the 120 s request deadline: the idle connection was closed, not waited for.
            #expect(ContinuousClock.now - start < .seconds(30))
            // The connection was closed by the server: nothing more arrives.
            let rest = await Task.detached { idle.readToEnd() }.value
            #expect(rest.isEmpty)
            #expect(access(socket, F_OK) != 0)
        }
    }
}
